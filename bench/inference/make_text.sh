#!/usr/bin/env bash
# The perplexity text: six licence texts that every Debian machine has in
# /usr/share/common-licenses (base-files), concatenated in a fixed order with one blank line
# between them. English legal prose, ~100 KB, ~23k SmolLM2 tokens (>= 20k needed).
# Usage: make_text.sh OUT   (prints the file's SHA-256 so a run can name the exact bytes)
set -euo pipefail
out=${1:?usage: make_text.sh OUT}
dir=/usr/share/common-licenses
: > "$out"
for f in GPL-3 Apache-2.0 LGPL-3 MPL-2.0 Artistic GFDL-1.3; do
  [[ -f $dir/$f ]] || { echo "missing $dir/$f (Debian base-files)" >&2; exit 1; }
  cat "$dir/$f" >> "$out"
  printf '\n' >> "$out"
done
sha256sum "$out"
