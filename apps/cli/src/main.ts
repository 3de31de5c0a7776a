import { run } from './cli';

// `laneway`: everything happens in run(); this only wires it to the process.
void run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
  process.exitCode = code;
});
