# the post-order as it comes: leaves first, the root last
order, visited = [], {root}
stack = [(root, iter(root.inputs))]
while stack:
    node, inputs = stack[-1]
    for tensor in inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in visited:
            if parent.freed:
                _raise_freed()
            visited.add(parent)
            stack.append((parent, iter(parent.inputs)))
            break
    else:
        stack.pop()
        order.append(node)
return order
