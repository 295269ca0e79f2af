/**
 * The layering of src/, checked by `npm run check:deps` (part of `npm test`): a folder imports
 * only folders below it, never one above, and never a sibling on its own level. No import
 * cycles, type-only imports included. ARCHITECTURE.md draws the same picture.
 */

// Bottom first. Folders on one row are siblings: independent of each other.
const LAYERS = [
  ['types.ts'],
  ['errors/'],
  ['util/'],
  ['delivery/'],
  ['ingest/', 'flow/'],
  ['workers/'],
  ['steps/'],
  ['observe/'],
  ['stages/', 'output/', 'generators/', 'otel/', 'redis/'],
  ['pipeline/'],
  ['chain/'],
  ['index.ts'],
];

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const re = (parts) => `^src/(${parts.map(esc).join('|')})`;
const all = LAYERS.flat();

const layerRules = LAYERS.flatMap((row, i) => {
  const above = LAYERS.slice(i + 1).flat();
  const rules = [];
  if (above.length > 0) {
    rules.push({
      name: `layer-${row.join('+')}`,
      comment: `${row.join(', ')} must not import a layer above it (${above.join(', ')})`,
      severity: 'error',
      from: { path: re(row) },
      to: { path: re(above) },
    });
  }
  for (const folder of row) {
    const siblings = row.filter((f) => f !== folder);
    if (siblings.length === 0) continue;
    rules.push({
      name: `siblings-${folder.replace('/', '')}`,
      comment: `${folder} must not import its siblings (${siblings.join(', ')})`,
      severity: 'error',
      from: { path: re([folder]) },
      to: { path: re(siblings) },
    });
  }
  return rules;
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only ones included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unplaced-file',
      comment:
        'Every file of src/ sits in a layer of .dependency-cruiser.cjs: add a new folder there',
      severity: 'error',
      from: { path: '^src/', pathNot: re(all) },
      to: {},
    },
    {
      name: 'core-never-loads-otel',
      comment:
        'otel/ is the paipa/otel subpath export: only its own entry point may load it, so the core never needs @opentelemetry/api',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/otel/' },
      to: { path: '^src/otel/' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
