// Compile TestTether.sol with the bundled solc-js (wasm, no download) into TestTether.json.
// Run with `npm run build:token`; the artifact is committed so Python tests need no Node build step.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const solc = require("solc");

const SOURCE = "TestTether.sol";
const CONTRACT = "TestTether";
const here = __dirname;

const input = {
  language: "Solidity",
  sources: { [SOURCE]: { content: fs.readFileSync(path.join(here, SOURCE), "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    // paris avoids PUSH0 so the bytecode also deploys on chains that lag behind Shanghai
    evmVersion: "paris",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const compiled = output.contracts[SOURCE][CONTRACT];
const artifact = {
  contractName: CONTRACT,
  compiler: `solc-js ${solc.version()}`,
  abi: compiled.abi,
  bytecode: `0x${compiled.evm.bytecode.object}`,
};
const target = path.join(here, `${CONTRACT}.json`);
fs.writeFileSync(target, `${JSON.stringify(artifact, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), target)} (${artifact.compiler})`);
