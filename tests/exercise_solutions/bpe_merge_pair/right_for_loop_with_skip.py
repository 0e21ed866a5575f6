# a for loop that skips the element a merge consumed
merged, skip = [], False
for i, token in enumerate(ids):
    if skip:
        skip = False
        continue
    if i + 1 < len(ids) and (token, ids[i + 1]) == tuple(pair):
        merged.append(new_id)
        skip = True
    else:
        merged.append(token)
return merged
