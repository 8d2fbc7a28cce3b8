//! Publishing into an OCI image layout on disk (`oci-layout:DIR`): the
//! format `skopeo copy oci:DIR:REF docker://…` and other OCI tools read.
//!
//! ```text
//! DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json            every manifest, named `<repository>:<tag>`
//! DIR/blobs/sha256/<hex>    manifests, configs and layers, by digest
//! ```
//!
//! A blob already there is not written again, and `index.json` is rewritten
//! only when a name is added or moved; a version once published never moves
//! to another digest. Every file is written atomically, blobs before the
//! index that names them, so a publish that is interrupted leaves a layout
//! that is still whole, and its re-run completes it.

use std::collections::BTreeMap;
use std::path::Path;

use floe_engine::System;
use serde::{Deserialize, Serialize};

use super::artifact::{Artifact, Descriptor, INDEX_TYPE, REF_NAME, is_version};
use super::{Published, Refused};
use crate::cli::Failure;
use crate::system::OsSystem;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// Publishes `artifacts` into the layout at `dir`.
pub fn publish(dir: &Path, artifacts: &[Artifact]) -> Result<Vec<Published>, Failure> {
    let sys = OsSystem;
    let index_path = dir.join("index.json");
    let mut index = match sys.read(&index_path)? {
        Some(bytes) => serde_json::from_slice::<Index>(&bytes)
            .map_err(|e| Failure::Usage(format!("`{}` is not an OCI image index: {e}", index_path.display())))?,
        None => Index { schema_version: 2, media_type: Some(INDEX_TYPE.to_owned()), manifests: Vec::new() },
    };
    // Refuse before writing anything: a version already published elsewhere.
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, m) in index.manifests.iter().enumerate() {
        if let Some(name) = m.annotations.get(REF_NAME) {
            names.insert(name.clone(), i);
        }
    }
    let mut refused = Vec::new();
    for a in artifacts {
        let name = format!("{}:{}", a.repository, a.tag);
        if let Some(&i) = names.get(&name)
            && index.manifests[i].digest != a.manifest.descriptor.digest
            && is_version(&a.tag)
        {
            refused.push(Refused {
                label: a.label.clone(),
                reference: name,
                published: index.manifests[i].digest.clone(),
            });
        }
    }
    if !refused.is_empty() {
        return Err(super::refusal(&refused));
    }

    let mut out = Vec::with_capacity(artifacts.len());
    let mut index_changed = sys.read(&dir.join("oci-layout"))?.is_none_or(|b| b != LAYOUT_FILE.as_bytes());
    if index_changed {
        sys.write_atomic(dir, "oci-layout", LAYOUT_FILE.as_bytes())?;
    }
    for a in artifacts {
        let mut p = Published::new(a, format!("{}:{}", a.repository, a.tag));
        for blob in a.layers.iter().chain([&a.config, &a.manifest]) {
            let rel = blob_path(&blob.descriptor.digest);
            // Content-addressed: a blob of this digest and size is these bytes.
            let there = sys.stat(&dir.join(&rel))?.is_some_and(|s| s.size == blob.descriptor.size);
            if there {
                p.skipped += 1;
            } else {
                sys.write_atomic(dir, &rel, &blob.bytes)?;
                p.uploaded += 1;
                p.bytes += blob.descriptor.size;
            }
        }
        let mut entry = a.manifest.descriptor.clone();
        entry.annotations.insert(REF_NAME.to_owned(), p.reference.clone());
        match names.get(&p.reference) {
            Some(&i) if index.manifests[i] == entry => {}
            Some(&i) => {
                index.manifests[i] = entry;
                index_changed = true;
            }
            None => {
                names.insert(p.reference.clone(), index.manifests.len());
                index.manifests.push(entry);
                index_changed = true;
            }
        }
        out.push(p);
    }
    if index_changed {
        index.manifests.sort_by(|a, b| a.annotations.get(REF_NAME).cmp(&b.annotations.get(REF_NAME)));
        let mut bytes = serde_json::to_vec_pretty(&index).expect("indexes serialize");
        bytes.push(b'\n');
        sys.write_atomic(dir, "index.json", &bytes)?;
    }
    Ok(out)
}

const LAYOUT_FILE: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";

fn blob_path(digest: &str) -> String {
    let (algorithm, hex) = digest.split_once(':').expect("digests are `algorithm:hex`");
    format!("blobs/{algorithm}/{hex}")
}
