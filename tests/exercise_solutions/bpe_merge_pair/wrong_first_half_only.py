# checks only the first id of the pair
merged, i = [], 0
while i < len(ids):
    if i + 1 < len(ids) and ids[i] == pair[0]:
        merged.append(new_id)
        i += 2
    else:
        merged.append(ids[i])
        i += 1
return merged
