"""Network building blocks: backbones (timm adapter), necks, heads."""
