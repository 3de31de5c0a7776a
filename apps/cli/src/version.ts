// The root package.json's version, the one version of Laneway's apps. esbuild inlines just this field
// when it bundles the CLI (tools/build/build-app.mjs), so the built CLI reads no file to print it.
// eslint-disable-next-line @nx/enforce-module-boundaries -- the workspace's own manifest, not another project
import { version } from '../../../package.json';

/** What `laneway --version` prints. */
export const CLI_VERSION: string = version;
