"""A tiny COCO keypoints set for tests (importable from any test folder: conftest modules share a name)."""

from pathlib import Path


def write_tiny_coco(root: Path, *, n_images: int = 6, schema=None, size: tuple[int, int] = (48, 40),
                    instances: int = 1, seed: int = 0, bad_images: tuple[int, ...] = (),
                    name: str = "ann.json") -> Path:
    """A tiny COCO keypoints set drawn with NumPy + OpenCV: coloured dots (one colour per
    keypoint) on noise. ``bad_images`` lists image indices written as undecodable bytes."""
    import json

    import cv2
    import numpy as np

    from kpdet.schema import COCO17

    schema = schema or COCO17
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    w, h = size
    k = schema.num_keypoints
    colours = [tuple(int(c) for c in cv2.cvtColor(np.uint8([[[180 * i // k, 255, 255]]]), cv2.COLOR_HSV2RGB)[0, 0])
               for i in range(k)]
    images, anns = [], []
    for i in range(n_images):
        img = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
        file_name = f"img{i:03d}.png"
        for j in range(instances):
            bw, bh = rng.uniform(0.4, 0.8) * w, rng.uniform(0.5, 0.9) * h
            x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            kp = np.zeros((k, 3))
            kp[:, 0] = rng.uniform(x0, x0 + bw, k)
            kp[:, 1] = rng.uniform(y0, y0 + bh, k)
            kp[:, 2] = np.where(rng.random(k) < 0.85, 2, 1)
            for (x, y, _), c in zip(kp, colours):
                cv2.circle(img, (int(round(x)), int(round(y))), 2, c, -1)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                         "bbox": [round(x0, 2), round(y0, 2), round(bw, 2), round(bh, 2)],
                         "area": round(bw * bh, 2), "keypoints": [round(float(v), 2) for v in kp.reshape(-1)]})
        if i in bad_images:
            (root / file_name).write_bytes(b"not an image")
        else:
            cv2.imwrite(str(root / file_name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        images.append({"id": i + 1, "file_name": file_name, "width": w, "height": h})
    path = root / name
    path.write_text(json.dumps({"images": images, "annotations": anns,
                                "categories": [schema.to_category(1)]}))
    return path
