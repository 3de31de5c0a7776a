#!/usr/bin/env node
// `laneway`, as npm links it into node_modules/.bin (apps/cli is the workspace package @laneway/cli),
// so that `npx laneway …` works in the repository. It only runs the built CLI: the code is in
// apps/cli/src, bundled by `npm run build` into dist/apps/cli/main.js.
'use strict';

const { existsSync } = require('node:fs');
const path = require('node:path');

// This file is <root>/apps/cli/bin/laneway.js (node follows the .bin symlink to it).
const root = path.resolve(__dirname, '..', '..', '..');
const bundle = path.join(root, 'dist', 'apps', 'cli', 'main.js');

if (!existsSync(bundle)) {
  process.stderr.write(
    `error: the laneway CLI is not built (${bundle} does not exist): run \`npm run build\` first, in ${root}\n`,
  );
  process.exit(1);
}

require(bundle);
