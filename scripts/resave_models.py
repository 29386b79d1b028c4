#!/usr/bin/env python
"""Re-save the shipped model files (src/tunesmith/models/*.pt) in the one model-file format
(tunesmith.training.checkpoint, format_version 2): python scripts/resave_models.py OUT_DIR, then copy.
Each file is read with load_model_file (any layout) and written with save_model_file; weights unchanged."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
from pathlib import Path
from tunesmith.training.checkpoint import load_model_file, save_model_file, HEADER_KEYS
names = {"transcriber": "transcriber", "composer-chorales": "composer", "transform-piano2violin": "transform", "voices": "classifier"}
out = Path(sys.argv[1])
out.mkdir(exist_ok=True)
for name, kind in names.items():
    info = load_model_file(Path(__file__).resolve().parents[1] / "src/tunesmith/models" / f"{name}.pt", kind)
    extras = {k: v for k, v in info.items() if k not in HEADER_KEYS and k != "state_dict"}
    print(name, "format", info["format_version"], "->", 2, "extras", sorted(extras))
    save_model_file(out / f"{name}.pt", kind, config=info["config"], state_dict=info["state_dict"], **extras)
