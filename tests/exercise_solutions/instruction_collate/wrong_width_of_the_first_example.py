# the batch as wide as its first example, not its longest
T = len(examples[0]) - 1
inputs = np.full((len(examples), T), pad_id, dtype=np.int64)
targets = np.full((len(examples), T), IGNORE_INDEX, dtype=np.int64)
for row, example in enumerate(examples):
    n = min(len(example) - 1, T)
    inputs[row, :n] = example.ids[:n]
    targets[row, :n] = example.ids[1:n + 1]
    if mask_prompt:
        targets[row, :max(example.prompt_length - 1, 0)] = IGNORE_INDEX
return inputs, targets
