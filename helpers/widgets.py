"""Interactive widgets for live exploration in Jupyter (day 2 onwards).

Each function returns an ``ipywidgets`` widget; display it by leaving it as the
last expression of a cell. The widgets need a running kernel: in a stored,
static notebook they show nothing, so every notebook that uses one also draws
a static picture of the same idea.
"""

from __future__ import annotations


def temperature_slider(logits, labels=None):
    """A slider that redraws ``softmax(logits / T)`` as a bar chart (day 2).

    Inputs: ``logits`` a 1-D tensor, array or list of ``C`` raw scores;
    ``labels`` an optional list of ``C`` class names (``"0"``, ``"1"``, ...
    by default). Drag the slider from T = 0.05 (nearly one-hot) to T = 20
    (nearly uniform); the title reports the top probability and the entropy.
    Returns an ``ipywidgets.VBox`` holding the slider and the plot.
    Introduced on day 2.
    """
    import io

    import ipywidgets as widgets
    import torch
    from matplotlib.figure import Figure

    from helpers.plotting import COURSE_COLORS
    from helpers.probabilities import entropy, softmax_with_temperature

    z = torch.as_tensor(logits, dtype=torch.float64).detach().cpu()
    if z.dim() != 1 or z.numel() < 2:
        raise ValueError("temperature_slider needs a 1-D list of at least two "
                         f"logits, got shape {tuple(z.shape)}.")
    names = [str(i) for i in range(z.numel())] if labels is None else list(labels)
    if len(names) != z.numel():
        raise ValueError(f"temperature_slider got {len(names)} labels for "
                         f"{z.numel()} logits; give one label per logit.")

    slider = widgets.FloatLogSlider(
        value=1.0, base=10, min=-1.3, max=1.3, step=0.01,
        description="temperature", readout_format=".2f",
        continuous_update=True, layout=widgets.Layout(width="520px"),
        style={"description_width": "initial"})
    picture = widgets.Image(format="png")

    def draw(change=None):
        # A bare Figure (no pyplot): nothing is printed into the cell, and
        # only the picture inside the widget changes when the slider moves.
        t = slider.value
        p = softmax_with_temperature(z, t)               # (C,)
        best = int(p.argmax())
        colors = [COURSE_COLORS[1] if i == best else COURSE_COLORS[0]
                  for i in range(len(names))]
        fig = Figure(figsize=(8, 3.8), dpi=90, layout="tight")
        ax = fig.add_subplot()
        ax.bar(names, p.numpy(), color=colors)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("probability")
        ax.set_title(f"T = {t:.2f}   top p = {p.max():.2f}   "
                     f"entropy = {entropy(p):.2f} nats")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        picture.value = buffer.getvalue()

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, picture])
