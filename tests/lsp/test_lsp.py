"""`floe lsp` driven over stdio by a real client (pytest-lsp), on a copy of testdata/mesh.

Run by tests/lsp.rs, which passes the floe binary (FLOE_BIN) and the example
workspace (FLOE_MESH).
"""

import asyncio
import json
import os
import pathlib
import shutil
import subprocess

import pytest
import pytest_lsp
from lsprotocol import types as t
from pytest_lsp import ClientServerConfig, LanguageClient

FLOE = os.environ["FLOE_BIN"]
MESH = pathlib.Path(os.environ["FLOE_MESH"])
# How long a check may take before a test gives up on its diagnostics.
WAIT = 30


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(MESH, ws, ignore=shutil.ignore_patterns(".floe", "floe-out"))
    return ws


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[FLOE, "lsp"]))
async def client(lsp_client: LanguageClient, workspace):
    lsp_client.registrations = []

    @lsp_client.feature(t.CLIENT_REGISTER_CAPABILITY)
    def register(params: t.RegistrationParams):
        lsp_client.registrations.extend(params.registrations)

    # As editors say it: Markdown in hovers and completions, files watched on request.
    markdown = [t.MarkupKind.Markdown, t.MarkupKind.PlainText]
    capabilities = t.ClientCapabilities(
        workspace=t.WorkspaceClientCapabilities(
            did_change_watched_files=t.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True)
        ),
        text_document=t.TextDocumentClientCapabilities(
            hover=t.HoverClientCapabilities(content_format=markdown),
            completion=t.CompletionClientCapabilities(
                completion_item=t.ClientCompletionItemOptions(documentation_format=markdown)
            ),
        ),
    )
    await lsp_client.initialize_session(
        t.InitializeParams(
            capabilities=capabilities,
            workspace_folders=[t.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        )
    )
    yield
    await lsp_client.shutdown_session()


def uri(workspace, rel):
    return (workspace / rel).as_uri()


def open_doc(client, workspace, rel, text=None):
    text = (workspace / rel).read_text() if text is None else text
    client.text_document_did_open(
        t.DidOpenTextDocumentParams(
            text_document=t.TextDocumentItem(uri=uri(workspace, rel), language_id="yaml", version=1, text=text)
        )
    )
    return text


def change_doc(client, workspace, rel, text, version):
    client.text_document_did_change(
        t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=uri(workspace, rel), version=version),
            content_changes=[t.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def diagnostics_until(client, doc_uri, done):
    """The diagnostics of `doc_uri` once `done` holds for them."""

    async def wait():
        while not done(client.diagnostics.get(doc_uri)):
            await client.wait_for_notification("textDocument/publishDiagnostics")
        return client.diagnostics[doc_uri]

    return await asyncio.wait_for(wait(), WAIT)


def position(text, needle, after=0):
    """The 0-based line and column of the first `needle` in `text` (from offset `after`)."""
    offset = text.index(needle, after)
    line = text.count("\n", 0, offset)
    return t.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


def codes(diags):
    return sorted((d.code, d.range.start.line + 1, d.range.start.character + 1) for d in diags)


@pytest.mark.asyncio
async def test_diagnostics_as_you_type_are_floe_checks_and_leave_the_disk_alone(client: LanguageClient, workspace):
    rel = "sales/orders/floe.yaml"
    on_disk = (workspace / rel).read_text()
    open_doc(client, workspace, rel)
    typo = on_disk.replace("schedule:", "schedul:").replace("tier: silver", "tier: silvr")
    change_doc(client, workspace, rel, typo, 2)
    diags = await diagnostics_until(client, uri(workspace, rel), lambda d: d and any(x.code == "E0101" for x in d))
    assert all(d.source == "floe" for d in diags)
    assert any("did you mean `schedule`" in d.message for d in diags), [d.message for d in diags]
    assert (workspace / rel).read_text() == on_disk, "the buffer is not saved"

    # The same codes at the same places as `floe check` of the saved text.
    saved = workspace.parent / "saved"
    shutil.copytree(workspace, saved)
    (saved / rel).write_text(typo)
    checked = subprocess.run([FLOE, "-C", str(saved), "check", "--format", "json"], capture_output=True, text=True)
    expected = sorted(
        (d["code"], d["span"]["line"], d["span"]["column"])
        for d in json.loads(checked.stdout)["diagnostics"]
        if d.get("file") == rel
    )
    assert expected and codes(diags) == expected

    # Fixed in the buffer: the file's diagnostics are cleared.
    change_doc(client, workspace, rel, on_disk, 3)
    await diagnostics_until(client, uri(workspace, rel), lambda d: d is not None and len(d) == 0)


@pytest.mark.asyncio
async def test_an_unsaved_port_edit_reaches_its_consumers(client: LanguageClient, workspace):
    rel = "sales/orders/floe.yaml"
    text = open_doc(client, workspace, rel)
    consumer = uri(workspace, "marketing/attribution/floe.yaml")
    dropped = text.replace("      - {name: customer_id, type: string, required: true}\n", "")
    assert dropped != text
    change_doc(client, workspace, rel, dropped, 2)
    diags = await diagnostics_until(client, consumer, lambda d: bool(d))
    assert any("customer_id" in d.message for d in diags), [d.message for d in diags]
    change_doc(client, workspace, rel, text, 3)
    await diagnostics_until(client, consumer, lambda d: d is not None and len(d) == 0)


@pytest.mark.asyncio
async def test_quick_fix_for_did_you_mean(client: LanguageClient, workspace):
    rel = "sales/orders/floe.yaml"
    text = open_doc(client, workspace, rel)
    typo = text.replace("schedule:", "schedul:")
    change_doc(client, workspace, rel, typo, 2)
    diags = await diagnostics_until(client, uri(workspace, rel), lambda d: d and any(x.code == "E0101" for x in d))
    diag = next(d for d in diags if d.code == "E0101")
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri(workspace, rel)),
            range=diag.range,
            context=t.CodeActionContext(diagnostics=[diag]),
        )
    )
    assert len(actions) == 1, actions
    action = actions[0]
    assert action.kind == t.CodeActionKind.QuickFix and action.title == "Replace `schedul` with `schedule`"
    (edit,) = action.edit.changes[uri(workspace, rel)]
    assert edit.new_text == "schedule" and edit.range == diag.range


@pytest.mark.asyncio
async def test_hover_shows_the_resolved_value_and_where_each_part_comes_from(client: LanguageClient, workspace):
    rel = "sales/manifest.yaml"
    text = open_doc(client, workspace, rel)
    hover = await client.text_document_hover_async(
        t.HoverParams(text_document=t.TextDocumentIdentifier(uri=uri(workspace, rel)), position=position(text, "threads"))
    )
    value = hover.contents.value
    assert "**`plugins.compute.config.threads`**" in value, value
    assert "Resolved: `2`" in value, value
    line = text[: text.index("threads")].count("\n") + 1
    assert f"domain `sales`, this file:{line}:" in value, value

    # A map: the domain's values and the enterprise's it inherits, each with its tier.
    hover = await client.text_document_hover_async(
        t.HoverParams(text_document=t.TextDocumentIdentifier(uri=uri(workspace, rel)), position=position(text, "config"))
    )
    value = hover.contents.value
    assert '"path":"/data/{product_slug}.duckdb"' in value, value
    assert "`plugins.compute.config.path`: enterprise `acme-enterprise`, `manifest.yaml`:" in value, value
    assert "`plugins.compute.config.memory_limit`: domain `sales`, this file:" in value, value


@pytest.mark.asyncio
async def test_go_to_definition(client: LanguageClient, workspace):
    async def definition(rel, needle, after=0):
        text = (workspace / rel).read_text()
        found = await client.text_document_definition_async(
            t.DefinitionParams(
                text_document=t.TextDocumentIdentifier(uri=uri(workspace, rel)),
                position=position(text, needle, text.index(after) if isinstance(after, str) else after),
            )
        )
        return found

    orders = (workspace / "sales/orders/floe.yaml").read_text()
    # An input port: the producer's output port.
    found = await definition("marketing/attribution/floe.yaml", "//sales/orders:orders")
    assert found.uri == uri(workspace, "sales/orders/floe.yaml")
    assert found.range.start == position(orders, "orders", orders.index("outputPorts"))
    # A relative label.
    found = await definition("marketing/attribution/floe.yaml", "../campaigns:audiences")
    assert found.uri == uri(workspace, "marketing/campaigns/floe.yaml")
    # A transform's dependency: its model.
    found = await definition("sales/orders/floe.yaml", "int_orders_unioned", "dependsOn: [int")
    assert found.uri == uri(workspace, "sales/orders/models/int_orders_unioned.sql")
    # ref() in SQL.
    found = await definition("sales/orders/models/fct_orders.sql", "int_orders_unioned")
    assert found.uri == uri(workspace, "sales/orders/models/int_orders_unioned.sql")
    # The platform a product names, and the product a domain approves.
    found = await definition("sales/orders/floe.yaml", "../manifest.yaml")
    assert found.uri == uri(workspace, "sales/manifest.yaml")
    found = await definition("sales/manifest.yaml", "customers", "approved_products")
    assert found.uri == uri(workspace, "sales/customers/floe.yaml")


@pytest.mark.asyncio
async def test_completion_from_the_schemas_plugins_and_ports(client: LanguageClient, workspace):
    async def labels(rel, text, needle, after=0):
        open_doc(client, workspace, rel, text)
        pos = position(text, needle, after)
        pos = t.Position(line=pos.line, character=pos.character + len(needle))
        found = await client.text_document_completion_async(
            t.CompletionParams(text_document=t.TextDocumentIdentifier(uri=uri(workspace, rel)), position=pos)
        )
        items = found.items if hasattr(found, "items") else found
        return {i.label: i for i in items}

    spec = (workspace / "sales/orders/floe.yaml").read_text()
    items = await labels("sales/orders/floe.yaml", spec + "inp", "inp", len(spec))
    assert "inputPorts" in items, sorted(items)
    assert "Other products' output ports" in items["inputPorts"].documentation.value
    assert "metadata" not in items, "a key already written is not offered again"
    change_doc(client, workspace, "sales/orders/floe.yaml", spec, 2)

    manifest = (workspace / "sales/manifest.yaml").read_text().replace("type: duckdb", "type: ")
    items = await labels("sales/manifest.yaml", manifest, "type: ")
    assert {"duckdb", "spark", "snowflake"} <= set(items), sorted(items)

    attribution = (workspace / "marketing/attribution/floe.yaml").read_text()
    typed = attribution.replace("from: //sales/orders:orders", "from: //sal")
    items = await labels("marketing/attribution/floe.yaml", typed, "from: //sal")
    assert "//sales/orders:orders" in items, sorted(items)


@pytest.mark.asyncio
async def test_a_new_unsaved_model_is_checked_and_fixed(client: LanguageClient, workspace):
    rel = "sales/orders/models/stg_returns.sql"
    text = "select order_id from {{ ref('stg_web_order') }}\n"
    open_doc(client, workspace, rel, text)
    assert not (workspace / rel).exists()
    diags = await diagnostics_until(client, uri(workspace, rel), lambda d: bool(d))
    diag = next(d for d in diags if "did you mean" in d.message)
    assert "stg_web_orders" in diag.message, diag.message
    actions = await client.text_document_code_action_async(
        t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri(workspace, rel)),
            range=diag.range,
            context=t.CodeActionContext(diagnostics=[diag]),
        )
    )
    (edit,) = actions[0].edit.changes[uri(workspace, rel)]
    assert edit.new_text == "stg_web_orders"
    assert edit.range.start == position(text, "stg_web_order")
    assert edit.range.end.character == edit.range.start.character + len("stg_web_order")


@pytest.mark.asyncio
async def test_files_changed_outside_the_editor_are_checked_once_told(client: LanguageClient, workspace):
    # The server asks to be told of the files a workspace walk may find.
    async def registered():
        while not client.registrations:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(registered(), WAIT)
    (registration,) = client.registrations
    assert registration.method == "workspace/didChangeWatchedFiles"
    assert registration.register_options["watchers"] == [{"globPattern": "**/*.{yaml,yml,sql,csv,lock}"}]
    # A file written on disk, never opened, told as a watcher tells it.
    rel = "finance/revenue/floe.yaml"
    path = workspace / rel
    path.write_text(path.read_text().replace("transforms:", "transfroms:", 1))
    client.workspace_did_change_watched_files(
        t.DidChangeWatchedFilesParams(changes=[t.FileEvent(uri=uri(workspace, rel), type=t.FileChangeType.Changed)])
    )
    diags = await diagnostics_until(client, uri(workspace, rel), lambda d: bool(d))
    assert any("did you mean `transforms`" in d.message for d in diags), [d.message for d in diags]
