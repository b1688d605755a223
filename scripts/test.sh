#!/usr/bin/env bash
# `npm test`: setup (idempotent), generated types up to date, type-check, lint, format, then every
# test file under test/ with Node's built-in runner. Extra arguments select test files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
node scripts/gen-types.js --check
npx --no-install tsc -p tsconfig.json --noEmit
npx --no-install eslint --max-warnings 0 .
npx --no-install prettier --check --log-level warn .
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' -not -path '*/fixtures/*' | sort); fi
exec node --import tsx --test --test-timeout=600000 "${files[@]}"
