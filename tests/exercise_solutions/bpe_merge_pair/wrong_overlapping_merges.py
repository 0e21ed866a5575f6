# moves on by one after a match, so overlapping occurrences merge twice
merged, i = [], 0
while i < len(ids):
    if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
        merged.append(new_id)
    else:
        merged.append(ids[i])
    i += 1
return merged
