import json

import numpy as np
import pytest
import scipy.io

from kpdet.data.coco import load_coco, save_coco
from kpdet.data.importers.builder import ImageStore
from kpdet.data.importers.dfi import DFI14, import_dfi
from kpdet.data.importers.mpii import import_mpii
from kpdet.data.importers.options import ImportOptions
from kpdet.errors import DataError
from kpdet.schema import MPII16


def _save(builder, out):
    save_coco(builder.to_dict(), out)
    return load_coco(out)


def test_mpii_counts_and_box(shared_data, tmp_path):
    src = shared_data / "mmpose-testdata" / "mpii" / "test_mpii.json"
    records = json.loads(src.read_text())
    ds = _save(import_mpii(src, ImageStore(tmp_path / "m.json"), ImportOptions()), tmp_path / "m.json")
    assert len(ds.images) == len({r["image"] for r in records})
    assert len(ds.annotations) == len(records)
    assert sum(a["num_keypoints"] for a in ds.annotations) == sum(sum(r["joints_vis"]) for r in records)
    assert ds.categories[0]["keypoints"] == list(MPII16.keypoints)
    r, a = records[0], ds.annotations[0]
    assert a["keypoints"][:2] == [r["joints"][0][0] - 1, r["joints"][0][1] - 1]  # MATLAB 1-based → 0-based
    x, y, w, h = a["bbox"]
    img = ds.image_by_id[a["image_id"]]
    side = 200 * r["scale"]  # MPII scale unit, clipped to the image
    assert x == pytest.approx(max(r["center"][0] - 1 - side / 2, -0.5))
    assert x + w == pytest.approx(min(r["center"][0] - 1 + side / 2, img["width"] - 0.5))


def test_mpii_bad_record(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps([{"image": "x.jpg", "joints": [[1, 2]] * 15,
                                                  "joints_vis": [1] * 16, "center": [1, 1], "scale": 1}]))
    with pytest.raises(DataError, match=r"record #0 \(image x.jpg\), field 'joints': expected finite numbers of shape \(16, 2\)"):
        import_mpii(tmp_path / "m.json", ImageStore(tmp_path / "o.json"), ImportOptions())
    (tmp_path / "m.json").write_text(json.dumps([{"image": "x.jpg"}]))
    with pytest.raises(DataError, match=r"record #0, field 'joints': missing"):
        import_mpii(tmp_path / "m.json", ImageStore(tmp_path / "o.json"), ImportOptions())


def test_dfi_counts_and_flip_pairs(shared_data, tmp_path):
    src = shared_data / "face-disguise-dfi" / "joints.mat"
    joints = scipy.io.loadmat(src)["joints"]
    ds = _save(import_dfi(src, ImageStore(tmp_path / "d.json"), ImportOptions()), tmp_path / "d.json")
    n = joints.shape[2]
    assert len(ds.images) == len(ds.annotations) == n == len(list((src.parent / "images").glob("*.jpg")))
    assert sum(a["num_keypoints"] for a in ds.annotations) == 14 * n
    # image k.jpg ↔ joints[:, :, k-1]
    by_name = {img["file_name"].rsplit("/", 1)[-1]: img["id"] for img in ds.images}
    a = ds.anns_by_image[by_name["17.jpg"]][0]
    assert np.allclose(np.reshape(a["keypoints"], (-1, 3))[:, :2], joints[:, :, 16] - 1.0)
    # frontal faces: the subject's right side (first of every flip pair) is on the image's left
    kps = np.stack([np.reshape(a["keypoints"], (-1, 3)) for a in ds.annotations])
    for r, left in DFI14.flip_pairs:
        assert (kps[:, r, 0] < kps[:, left, 0]).all(), (DFI14.keypoints[r], DFI14.keypoints[left])
    assert ds.categories[0]["flip_pairs"] == [[a + 1, b + 1] for a, b in DFI14.flip_pairs]


def test_dfi_bad_input(tmp_path):
    scipy.io.savemat(tmp_path / "j.mat", {"joints": np.zeros((14, 3, 2))})
    with pytest.raises(DataError, match=r"j.mat, field 'joints': expected a variable 'joints' of shape \(14, 2, N\)"):
        import_dfi(tmp_path / "j.mat", ImageStore(tmp_path / "o.json"), ImportOptions())
    scipy.io.savemat(tmp_path / "j.mat", {"joints": np.ones((14, 2, 2))})
    with pytest.raises(DataError, match=r"j.mat, joints\[:, :, 0\]: image not found: .*1.jpg"):
        import_dfi(tmp_path / "j.mat", ImageStore(tmp_path / "o.json"), ImportOptions())
