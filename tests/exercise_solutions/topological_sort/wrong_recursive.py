# a correct order, but recursion: deep graphs hit Python's recursion limit
order, visited = [], set()

def visit(node):
    visited.add(node)
    for tensor in node.inputs:
        parent = getattr(tensor, "_node", None)
        if parent is not None and parent not in visited:
            if parent.freed:
                _raise_freed()
            visit(parent)
    order.append(node)

visit(root)
order.reverse()
return order
