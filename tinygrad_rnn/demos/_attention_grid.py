"""A static picture of a Transformer's attention for one input: one small heat map per head
(columns) and layer (rows), as BertViz's "model view". Row i of a map is what query token i
attends to; every row sums to 1."""
from __future__ import annotations

from ._applied import pyplot


def plot_attention_grid(path: str, maps, queries: list[str], keys: list[str], title: str,
                        log) -> str | None:
    """``maps``: one array (heads, L, S) of attention weights per layer; ``queries`` (L) and
    ``keys`` (S) label the axes. Writes a PNG and returns its path (None without matplotlib)."""
    plt = pyplot(log)
    if plt is None:
        return None
    # matplotlib reads text between two $ as TeX math: a text's own $ must stay a $
    literal = lambda text: str(text).replace("$", r"\$")  # noqa: E731
    queries, keys, title = [literal(q) for q in queries], [literal(k) for k in keys], literal(title)
    layers, heads = len(maps), maps[0].shape[0]
    side = max(2.2, 0.22 * max(len(queries), len(keys)))
    fig, axes = plt.subplots(layers, heads, figsize=(side * heads + 1.0, side * layers + 1.0),
                             squeeze=False)
    for layer, weights in enumerate(maps):
        for head in range(heads):
            ax = axes[layer][head]
            ax.imshow(weights[head], cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(keys)))
            ax.set_yticks(range(len(queries)))
            # tokens on the outer edge only: the maps stay readable at any grid size
            ax.set_xticklabels(keys if layer == layers - 1 else [], rotation=90, fontsize=7)
            ax.set_yticklabels(queries if head == 0 else [], fontsize=7)
            if layer == 0:
                ax.set_title(f"head {head + 1}", fontsize=9)
            if head == 0:
                ax.set_ylabel(f"layer {layer + 1}", fontsize=9)
    fig.suptitle(f"{title} (dark = high; row = query, column = key)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / (side * layers + 1.0)))   # room for the title
    fig.savefig(path, dpi=100)
    plt.close(fig)
    log(f"attention grid (layers x heads): {path}")
    return path
