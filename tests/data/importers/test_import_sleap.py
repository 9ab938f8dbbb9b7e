import json
import shutil

import cv2
import h5py
import numpy as np
import pytest

from kpdet.data.coco import load_coco, save_coco
from kpdet.data.importers.builder import ImageStore
from kpdet.data.importers.options import ImportOptions
from kpdet.data.importers.sleap import import_sleap, read_slp
from kpdet.errors import DataError


def _raw(path, frame_range=None):
    """(frames, user instances, labelled points) counted from the HDF5 tables directly."""
    with h5py.File(path, "r") as h5:
        frames, inst, pts = h5["frames"][:], h5["instances"][:], h5["points"][:]
    fidx = {int(f["frame_id"]): int(f["frame_idx"]) for f in frames}
    keep = {fid for fid, i in fidx.items() if frame_range is None or i in frame_range}
    n_inst = n_pts = 0
    frames_with = set()
    for r in inst:
        if r["instance_type"] != 0 or int(r["frame_id"]) not in keep:
            continue
        p = pts[r["point_id_start"]:r["point_id_end"]]
        good = int((np.isfinite(p["x"]) & np.isfinite(p["y"]) & p["visible"]).sum())
        if good:
            n_inst += 1
            n_pts += good
            frames_with.add(int(r["frame_id"]))
    return len(frames_with), n_inst, n_pts


def _convert(src, out, images=None, **opts):
    builder = import_sleap(src, ImageStore(out, images), ImportOptions(**opts))
    save_coco(builder.to_dict(), out)
    return load_coco(out)


def test_clip_labels_are_exact_over_the_whole_file(shared_data):
    clip = shared_data / "sleap-testdata" / "tracks" / "clip.slp"
    labels = read_slp(clip)
    n_frames, n_inst, n_pts = _raw(clip)
    assert (n_frames, n_inst) == (1500, 3000)
    assert len(labels.frames) == n_frames
    assert sum(len(f.instances) for f in labels.frames) == n_inst
    assert sum(int((k[:, 2] > 0).sum()) for f in labels.frames for _, k, _ in f.instances) == n_pts
    assert labels.tracks == ["female", "male"]
    name, nodes, edges, flips = labels.skeletons[0]
    assert len(nodes) == 13 and len(edges) == 12
    assert {(nodes[a], nodes[b]) for a, b in flips} >= {("eyeL", "eyeR"), ("wingL", "wingR"), ("hindlegL4", "hindlegR4")}


def test_clip_subset_extracts_frames(shared_data, tmp_path):
    clip = shared_data / "sleap-testdata" / "tracks" / "clip.slp"
    ds = _convert(clip, tmp_path / "ann.json", tmp_path / "frames", frames=slice(0, 40))
    n_frames, n_inst, n_pts = _raw(clip, range(0, 40))
    assert len(ds.images) == n_frames == 40
    assert len(ds.annotations) == n_inst
    assert sum(a["num_keypoints"] for a in ds.annotations) == n_pts
    assert {a["track_id"] for a in ds.annotations} == {0, 1}
    img = cv2.imread(str(ds.image_path(ds.images[-1]["id"])), cv2.IMREAD_UNCHANGED)
    assert img.shape[:2] == (1024, 1024)
    assert ds.images[-1]["file_name"] == "frames/video0_clip/000039.png"
    # the frame written is the labelled one (PNG is lossless): decode the video independently
    cap = cv2.VideoCapture(str(clip.parent / "clip.mp4"))
    decoded = [cap.read()[1][:, :, 0] for _ in range(40)]
    cap.release()
    assert np.array_equal(img, decoded[39]) and not np.array_equal(img, decoded[38])


def test_package_frames_match_the_video(shared_data, tmp_path):
    root = shared_data / "sleap-testdata"
    pkg = _convert(root / "sleap-nn" / "minimal_instance.pkg.slp", tmp_path / "pkg" / "ann.json")
    vid = _convert(root / "slp_hdf5" / "minimal_instance.slp", tmp_path / "vid" / "ann.json")
    assert len(pkg.images) == len(vid.images) == 1 and len(pkg.annotations) == len(vid.annotations) == 2
    assert sorted(a["keypoints"] for a in pkg.annotations) == sorted(a["keypoints"] for a in vid.annotations)
    assert pkg.images[0]["file_name"] == "images/video0/000000.png"  # default: images/ beside the JSON
    a = cv2.imread(str(pkg.image_path(1)), cv2.IMREAD_GRAYSCALE).astype(int)
    b = cv2.imread(str(vid.image_path(1)), cv2.IMREAD_GRAYSCALE).astype(int)
    assert a.shape == b.shape == (384, 384)
    assert np.abs(a - b).mean() < 3  # the same frame (the package's copy went through its own encoder)


def test_dance_user_only_by_default(shared_data, tmp_path):
    dance = shared_data / "sleap-testdata" / "slp_hdf5" / "dance.mp4.labels.slp"
    user = read_slp(dance)
    both = read_slp(dance, predicted=True)
    assert len(user.frames) == 3 and sum(len(f.instances) for f in user.frames) == 3
    with h5py.File(dance, "r") as h5:
        inst = h5["instances"][:]
    corrected = {int(r["from_predicted"]) for r in inst if r["instance_type"] == 0 and r["from_predicted"] >= 0}
    n_pred = int((inst["instance_type"] == 1).sum()) - len(corrected)
    assert sum(len(f.instances) for f in both.frames) == 3 + n_pred
    assert sum(e.get("predicted", False) for f in both.frames for _, _, e in f.instances) == n_pred


def test_missing_video_and_missing_table(shared_data, tmp_path):
    src = tmp_path / "a.slp"
    shutil.copy(shared_data / "sleap-testdata" / "slp_hdf5" / "minimal_instance.slp", src)
    with pytest.raises(DataError, match=r"a.slp, video 0: video not found"):
        _convert(src, tmp_path / "ann.json")
    with h5py.File(src, "a") as h5:
        del h5["instances"]
    with pytest.raises(DataError, match=r"a.slp: missing the HDF5 entry 'instances'"):
        read_slp(src)


def test_wrong_point_range_names_the_instance(shared_data, tmp_path):
    src = tmp_path / "b.slp"
    shutil.copy(shared_data / "sleap-testdata" / "slp_hdf5" / "minimal_instance.slp", src)
    with h5py.File(src, "a") as h5:
        inst = h5["instances"][:]
        inst["point_id_end"][1] = inst["point_id_start"][1] + 1
        h5["instances"][...] = inst
    with pytest.raises(DataError, match=r"b.slp, instance 1: expected 2 points"):
        read_slp(src)
    (tmp_path / "c.slp").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="not a SLEAP .slp"):
        read_slp(tmp_path / "c.slp")


def test_metadata_json_is_parsed_not_executed(shared_data, tmp_path):
    src = tmp_path / "d.slp"
    shutil.copy(shared_data / "sleap-testdata" / "slp_hdf5" / "minimal_instance.slp", src)
    with h5py.File(src, "a") as h5:
        meta = json.loads(h5["metadata"].attrs["json"])
        meta["skeletons"][0]["nodes"] = [{"id": 5}, {"id": 0}]
        h5["metadata"].attrs["json"] = json.dumps(meta).encode()
    with pytest.raises(DataError, match=r"skeleton 0, field 'nodes': expected node ids"):
        read_slp(src)
