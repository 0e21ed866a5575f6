# stops before the last element when it is not part of a match
merged, i = [], 0
while i < len(ids) - 1:
    if ids[i] == pair[0] and ids[i + 1] == pair[1]:
        merged.append(new_id)
        i += 2
    else:
        merged.append(ids[i])
        i += 1
return merged
