#!/usr/bin/env bash
# Import the real labelled sets of the shared data folder and split them by image order into
# data/<set>/{train,test}.json (the paths the configs/topdown/{dlc_openfield,face_dfi}.yaml
# presets read). Images stay where they are; the JSONs reference them by relative path.
#   dlc-openfield: frames img0000–img0089 train, img0090–img0115 test (CSV row order)
#   face-dfi:      images 1–640 train, 641–800 test (joints.mat order)
set -euo pipefail
SHARED="${KPDET_SHARED_DATA:-../shared/data}"
KPDET="${KPDET:-kpdet}"
mkdir -p data/dlc-openfield data/face-dfi

$KPDET convert dlc "$SHARED/dlc-openfield-Pranav-2018-10-30" --out data/dlc-openfield/all.json
$KPDET split data/dlc-openfield/all.json --out-dir data/dlc-openfield --ranges train=0:90,test=90:116

$KPDET convert dfi "$SHARED/face-disguise-dfi/joints.mat" --out data/face-dfi/all.json
$KPDET split data/face-dfi/all.json --out-dir data/face-dfi --ranges train=0:640,test=640:800
