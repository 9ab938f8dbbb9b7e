import json
import os
import subprocess
import sys
from pathlib import Path

from kpdet.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_convert_end_to_end_without_torch(shared_data, tmp_path):
    out = tmp_path / "out" / "ann.json"
    src = shared_data / "dlc-Reaching-Mackenzie-2018-08-30"
    code = (
        "import sys\n"
        "from kpdet.cli import main\n"
        f"rc = main(['convert', 'dlc', {str(src)!r}, '--out', {str(out)!r}, '--images', {str(out.parent / 'img')!r}])\n"
        "assert rc == 0, rc\n"
        "assert 'torch' not in sys.modules, 'kpdet convert imported torch'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "55 images, 55 instances" in proc.stdout
    d = json.loads(out.read_text())
    assert all((out.parent / img["file_name"]).is_file() for img in d["images"])
    assert d["images"][0]["file_name"].startswith("img/labeled-data/reachingvideo1/")


def test_convert_reports_data_errors_without_traceback(tmp_path, capsys):
    (tmp_path / "d.yaml").write_text("kpt_shape: [3\n")
    rc = main(["convert", "yolo", str(tmp_path / "d.yaml"), "--out", str(tmp_path / "o.json")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "kpdet convert: error:" in err and "d.yaml: malformed YAML" in err and "Traceback" not in err
    assert not (tmp_path / "o.json").exists()


def test_frames_option_is_validated(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["convert", "sleap", "x.slp", "--out", "o.json", "--frames", "10"])
    assert "expected START:STOP" in capsys.readouterr().err
