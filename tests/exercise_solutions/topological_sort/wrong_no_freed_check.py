# walks into a graph that the first backward already released
order, visited = [], {root}
stack = [(root, iter(root.inputs))]
while stack:
    node, inputs = stack[-1]
    for tensor in inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in visited:
            visited.add(parent)
            stack.append((parent, iter(parent.inputs)))
            break
    else:
        stack.pop()
        order.append(node)
order.reverse()
return order
