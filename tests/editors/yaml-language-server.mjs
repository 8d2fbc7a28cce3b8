// Drives yaml-language-server as an editor does, for tests/editors.rs: each
// file is opened with the schema its first line names
// (`# yaml-language-server: $schema=...`), validated, and optionally hovered
// and completed at a position. Usage: node yaml-language-server.mjs DIR, where
// DIR holds node_modules with yaml-language-server; the request comes as JSON
// on stdin, the answer goes as JSON to stdout.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = process.argv[2];
const load = (path) => import(pathToFileURL(join(dir, 'node_modules', path)).href);
const { getLanguageService } = await load('yaml-language-server/out/src/index.js');
const { TextDocument } = await load('vscode-languageserver-textdocument/lib/esm/main.js');

const service = getLanguageService({
  schemaRequestService: async (uri) => readFileSync(fileURLToPath(uri), 'utf8'),
  workspaceContext: { resolveRelativePath: (relative, resource) => new URL(relative, resource).href },
});
service.configure({ validate: true, hover: true, completion: true, schemas: [] });

const open = (file) => TextDocument.create(pathToFileURL(file).href, 'yaml', 1, readFileSync(file, 'utf8'));
const request = JSON.parse(readFileSync(0, 'utf8'));
const answer = { diagnostics: {}, hover: null, completion: null };
for (const file of request.files) {
  const found = await service.doValidation(open(file), false);
  answer.diagnostics[file] = found.map((d) => ({ line: d.range.start.line + 1, message: d.message }));
}
if (request.hover) {
  const { file, line, character } = request.hover;
  const hover = await service.doHover(open(file), { line: line - 1, character });
  answer.hover = hover ? hover.contents.value ?? JSON.stringify(hover.contents) : null;
}
if (request.completion) {
  const { file, line, character } = request.completion;
  const list = await service.doComplete(open(file), { line: line - 1, character }, false);
  answer.completion = list.items.map((item) => item.label);
}
process.stdout.write(JSON.stringify(answer));
