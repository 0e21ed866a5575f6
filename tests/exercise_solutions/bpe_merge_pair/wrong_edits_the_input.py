# merges inside the caller's list
i = 0
while i < len(ids) - 1:
    if ids[i] == pair[0] and ids[i + 1] == pair[1]:
        ids[i:i + 2] = [new_id]
    i += 1
return ids
