# masks one target too few: the prompt's last token is still a target
T = max(len(example) for example in examples) - 1
inputs = np.full((len(examples), T), pad_id, dtype=np.int64)
targets = np.full((len(examples), T), IGNORE_INDEX, dtype=np.int64)
for row, example in enumerate(examples):
    n = len(example) - 1
    inputs[row, :n] = example.ids[:-1]
    targets[row, :n] = example.ids[1:]
    if mask_prompt:
        targets[row, :max(example.prompt_length - 2, 0)] = IGNORE_INDEX
return inputs, targets
