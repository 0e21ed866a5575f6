# a two-phase stack that marks a node visited when it is pushed: a node pushed early by a
# short path finishes before a longer path's consumer of it is expanded
order, visited, stack = [], {root}, [(root, False)]
while stack:
    node, expanded = stack.pop()
    if expanded:
        order.append(node)
        continue
    stack.append((node, True))
    for tensor in node.inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in visited:
            if parent.freed:
                _raise_freed()
            visited.add(parent)
            stack.append((parent, False))
order.reverse()
return order
