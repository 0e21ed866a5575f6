# a two-phase stack: a node is expanded once, when it is first popped, and listed when popped
# again after everything it reaches; the reversed finishing order is topological
order, expanded, stack = [], set(), [(root, False)]
while stack:
    node, finished = stack.pop()
    if finished:
        order.append(node)
        continue
    if node in expanded:
        continue
    expanded.add(node)
    stack.append((node, True))
    for tensor in node.inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in expanded:
            if parent.freed:
                _raise_freed()
            stack.append((parent, False))
order.reverse()
return order
