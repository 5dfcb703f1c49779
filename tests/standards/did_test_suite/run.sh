#!/usr/bin/env bash
# Run the W3C DID test suite (github.com/w3c/did-test-suite) on GovChain's implementation files
# (did-govchain.json, resolver-govchain.json; regenerate them with
# `.venv/bin/python -m tests.standards.did_test_suite.generate`).
#
#   tests/standards/did_test_suite/run.sh /path/to/did-test-suite-checkout
#
# Needs Node.js and the npm registry; works in a temporary copy, never in the checkout. Not part
# of the pytest run (tests/standards/test_did_core.py ports the checks that bear on GovChain).
set -euo pipefail
suite=${1:?usage: $0 /path/to/a/checkout/of/w3c/did-test-suite}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$suite/packages" "$work/"

# jest-did-matcher is the suite's own package (lerna links it; it is not on npm): build it.
cd "$work/packages/jest-did-matcher"
npm install --no-audit --no-fund >/dev/null
npx babel src -d dist --ignore '*.test.js' >/dev/null

cd "$work/packages/did-core-test-server"
sed -i 's|"jest-did-matcher": "^0.0.1"|"jest-did-matcher": "file:../jest-did-matcher"|' package.json
npm install --no-audit --no-fund --ignore-scripts >/dev/null
cp "$here/did-govchain.json" "$here/resolver-govchain.json" suites/implementations/

# Each suite's default.js lists the implementations it runs: here, only GovChain's.
for s in did-identifier did-core-properties did-production did-consumption; do
  printf "module.exports = {name: '%s', didMethods: [require('../implementations/did-govchain.json')]};\n" "$s" \
    > "suites/$s/default.js"
done
printf "module.exports = {name: '7.1 DID Resolution', resolvers: [require('../implementations/resolver-govchain.json')]};\n" \
  > suites/did-resolution/default.js

npx jest suites/did-identifier suites/did-core-properties suites/did-production suites/did-consumption \
  suites/did-resolution "${@:2}"
