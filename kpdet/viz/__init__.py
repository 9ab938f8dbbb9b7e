"""Pictures: skeleton and heatmap overlays (draw), training curves (plots), HTML reports (report).

Nothing here imports torch: `kpdet show` and the reading commands use it.
"""
