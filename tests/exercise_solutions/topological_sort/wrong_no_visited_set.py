# no record of visited nodes: a node reached along two paths is listed twice
order, stack = [], [(root, iter(root.inputs))]
while stack:
    node, inputs = stack[-1]
    for tensor in inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None:
            if parent.freed:
                _raise_freed()
            stack.append((parent, iter(parent.inputs)))
            break
    else:
        stack.pop()
        order.append(node)
order.reverse()
return order
