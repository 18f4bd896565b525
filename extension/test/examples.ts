// Example documents written by torsh itself (tests/test_extension.py sets TORSH_EXAMPLES) and the schemas.
import * as fs from 'fs';
import * as path from 'path';

export const SCHEMA_DIR = process.env.TORSH_SCHEMAS ?? path.resolve(__dirname, '../../docs/schemas');
export const EXAMPLE_DIR = process.env.TORSH_EXAMPLES ?? '';

export function readJson(file: string): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** [file name, document] for every example ending in `suffix` (none when TORSH_EXAMPLES is unset). */
export function examples(suffix: string): Array<[string, any]> {
  if (!EXAMPLE_DIR) {
    return [];
  }
  return fs
    .readdirSync(EXAMPLE_DIR)
    .filter(f => f.endsWith(suffix))
    .sort()
    .map(f => [f, readJson(path.join(EXAMPLE_DIR, f))]);
}
