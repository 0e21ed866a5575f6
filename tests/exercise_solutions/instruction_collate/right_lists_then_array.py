# build each row as a Python list, then one array
T = max(len(example.ids) for example in examples) - 1
input_rows, target_rows = [], []
for example in examples:
    ids = list(example.ids)
    padding = T - (len(ids) - 1)
    targets = ids[1:]
    if mask_prompt:
        n_masked = max(example.prompt_length - 1, 0)
        targets = [IGNORE_INDEX] * n_masked + targets[n_masked:]
    input_rows.append(ids[:-1] + [pad_id] * padding)
    target_rows.append(targets + [IGNORE_INDEX] * padding)
return np.array(input_rows, dtype=np.int64), np.array(target_rows, dtype=np.int64)
