#!/usr/bin/env bash
# Download the standard small English Vosk model, check its checksum, unpack it under models/vosk/.
# Then start the agent with OOH_VOSK_MODEL_DIR=models/vosk/vosk-model-small-en-us-0.15 to use it
# instead of the offline pocketsphinx recogniser (which needs no download).
set -euo pipefail
cd "$(dirname "$0")/.."
name="vosk-model-small-en-us-0.15"
url="https://alphacephei.com/vosk/models/${name}.zip"
# Published by no one upstream; this is the digest many projects record for the 41,205,931-byte archive.
sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
mkdir -p models/vosk
zip="models/vosk/${name}.zip"
if [ ! -d "models/vosk/${name}" ]; then
  curl -fL --retry 3 -o "$zip" "$url"
  echo "${sha256}  ${zip}" | sha256sum -c -
  (cd models/vosk && unzip -q "${name}.zip" && rm "${name}.zip")
fi
echo "Vosk model ready: export OOH_VOSK_MODEL_DIR=$PWD/models/vosk/${name}"
