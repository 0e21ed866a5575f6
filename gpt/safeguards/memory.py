"""How much memory a GPT and a training run need, estimated before anything is allocated.

An absurd size (`--n-embd 1000000`, `--batch-size 10000000`) must be refused with a sentence
that says how much memory it needed and which setting to lower, not with a MemoryError
traceback minutes in, and not by the kernel killing the process: Linux hands out memory
lazily, so many large arrays can be "allocated" and only fail when they are first written.

    parameters   V*C + T*C + L*(12*C^2 + 13*C) + 2*C         (GPT-2's, with biases)
    a training step keeps, in float32 (4 bytes each):
      weights, gradients, AdamW's two moments                 4 x parameters
      activations saved for backward, per token of the batch  L*(16*C + 1.5*H*T) + 3*V

The activation figure was fitted to the peak resident memory of two training steps (widths
64 to 512, contexts 64 to 512, 2 to 16 layers, vocabularies 65 and 50,257) and rounded down:
the estimate is 5 to 30% below the real peak (30% for the smallest run, where fixed costs
dominate), so a refusal never happens to a run that would have fitted.
"""
import os
from pathlib import Path

BYTES_PER_FLOAT = 4                     # float32
TRAINING_COPIES = 4                     # weights, gradients, AdamW's exp_avg and exp_avg_sq


class NotEnoughMemory(MemoryError):
    """Raised before allocating: the message says how much was needed, how much there is,
    and what to lower."""


def parameter_count(vocab_size, block_size, n_layer, n_embd, bias=True):
    """The number of parameters of a GPT of these sizes (the tied head counted once)."""
    C = n_embd
    per_block = 12 * C * C + (13 * C if bias else 2 * C)   # ln_1, c_attn, c_proj, ln_2, mlp
    return vocab_size * C + block_size * C + n_layer * per_block + (2 * C if bias else C)


def activation_floats(batch_size, block_size, n_layer, n_head, n_embd, vocab_size):
    """Floats a training step keeps for its backward pass (see the module docstring)."""
    # whole numbers only: a size of 10**400 (Python parses it) must not overflow a float
    per_token = n_layer * 16 * n_embd + n_layer * n_head * block_size * 3 // 2 + 3 * vocab_size
    return batch_size * block_size * per_token


def training_bytes(sizes):
    """(bytes for the weights, gradients and optimizer state, bytes for activations) of a
    training step; `sizes` maps vocab_size, block_size, n_layer, n_head, n_embd and
    batch_size to numbers."""
    parameters = parameter_count(sizes["vocab_size"], sizes["block_size"], sizes["n_layer"],
                                 sizes["n_embd"])
    activations = activation_floats(sizes["batch_size"], sizes["block_size"], sizes["n_layer"],
                                    sizes["n_head"], sizes["n_embd"], sizes["vocab_size"])
    return TRAINING_COPIES * BYTES_PER_FLOAT * parameters, BYTES_PER_FLOAT * activations


def check_training_fits(sizes, lowerable, available=None):
    """A NotEnoughMemory error if a training step of these `sizes` (see training_bytes) needs
    more memory than is `available` (bytes; None: what this machine has free now).

    `lowerable` maps each size a user can lower to (its name for the user, e.g. the flag
    "--batch-size", a usual value): the message suggests the one whose lowering, to that
    value or else to half, saves the most."""
    def needed_bytes(s):
        return sum(training_bytes(s))
    needed = needed_bytes(sizes)
    available = available_memory() if available is None else available
    if available is None or needed <= available:
        return
    state, activations = training_bytes(sizes)
    raise NotEnoughMemory(
        f"training needs about {format_bytes(needed)} of memory (weights, gradients and "
        f"AdamW's moments {format_bytes(state)}, activations {format_bytes(activations)}); "
        f"this machine has {format_bytes(available)} free: "
        f"{suggestion(sizes, lowerable, needed_bytes)}")


def check_model_fits(config, available=None):
    """A NotEnoughMemory error if a GPT of `config` (a GPTConfig) has more float32 weights
    than fit in the memory `available` (bytes; None: what this machine has free now)."""
    sizes = {name: getattr(config, name)
             for name in ("vocab_size", "block_size", "n_layer", "n_embd")}
    def weight_bytes(s):
        return BYTES_PER_FLOAT * parameter_count(**s, bias=config.bias)
    needed = weight_bytes(sizes)
    available = available_memory() if available is None else available
    if available is None or needed <= available:
        return
    lowerable = {name: (name, None) for name in sizes}
    raise NotEnoughMemory(
        f"a GPT with vocab_size={config.vocab_size}, block_size={config.block_size}, "
        f"n_layer={config.n_layer} and n_embd={config.n_embd} has {format_bytes(needed)} of "
        f"float32 weights; this machine has {format_bytes(available)} free: "
        f"{suggestion(sizes, lowerable, weight_bytes)}")


def suggestion(sizes, lowerable, needed_bytes):
    """'lower --batch-size (at 12 it would need about 60 MB)': of the sizes in `lowerable`
    ({key: (name, usual value or None)}), the one whose lowering (to its usual value if it is
    above it, else to half) leaves the least memory needed."""
    options = {}
    for key, (name, usual) in lowerable.items():
        lower = usual if usual is not None and sizes[key] > usual else max(1, sizes[key] // 2)
        options[key] = (needed_bytes({**sizes, key: lower}), name, lower)
    needed, name, lower = min(options.values())
    return f"lower {name} (at {lower} it would need about {format_bytes(needed)})"


def available_memory():
    """Bytes this process could still allocate: the kernel's MemAvailable plus free swap,
    or less if a control group (a container's memory limit) allows less. Where there is no
    /proc/meminfo (macOS), the machine's physical memory: what can never fit is still
    refused. None where nothing can be read: then nothing is refused in advance."""
    limits = []
    meminfo = _read_meminfo()
    if "MemAvailable" in meminfo:
        limits.append(meminfo["MemAvailable"] + meminfo.get("SwapFree", 0))
    else:
        limits += [total for total in [_physical_memory()] if total]
    for limit_file, usage_file in (("memory.max", "memory.current"),                # cgroup v2
                                   ("memory/memory.limit_in_bytes",
                                    "memory/memory.usage_in_bytes")):            # cgroup v1
        limit, usage = (_read_int(Path("/sys/fs/cgroup") / name)
                        for name in (limit_file, usage_file))
        if limit is not None and usage is not None and limit < 2 ** 60:   # 2**63: no limit
            limits.append(max(0, limit - usage))
    return min(limits) if limits else None


def _read_meminfo():
    """/proc/meminfo as {field: bytes}; {} where there is no such file."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return {}
    fields = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return fields


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):         # no sysconf (Windows), or unknown
        return None


def _read_int(path):
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):                     # absent, or "max" (no limit)
        return None


def format_bytes(n):
    """1536 -> '1.54 KB': decimal units, three significant digits; beyond exabytes, a power
    of ten (the sizes here are Python integers, which can exceed any float)."""
    if n >= 10 ** 21:
        return f"10^{len(str(int(n))) - 1} bytes"
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB", "EB"):
        if n < 1000 or unit == "EB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
