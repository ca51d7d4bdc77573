"""Wrong answers for the saddle-points assignment, keyed by catalogue mistake."""

SUBMISSIONS = {
    "cc-determinant": '''
def classify_critical_point(hessian):
    det = np.linalg.det(hessian)
    if abs(det) < 1e-10:
        return "degenerate"
    return "minimum" if det > 0 else "saddle"
''',
    "cc-trace": '''
def classify_critical_point(hessian):
    curvature = np.trace(hessian)
    if curvature > 0:
        return "minimum"
    if curvature < 0:
        return "maximum"
    return "degenerate"
''',
    "cc-zero-as-minimum": '''
def classify_critical_point(hessian):
    eigenvalues = np.linalg.eigvalsh(hessian)
    if np.all(eigenvalues >= -1e-8):
        return "minimum"
    if np.all(eigenvalues <= 1e-8):
        return "maximum"
    return "saddle"
''',
    "pgd-always": '''
def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = np.array(x0, dtype=float)
    d = len(x)
    path = [x]
    for _ in range(num_steps):
        direction = rng.standard_normal(d)
        x = x + radius * rng.random() ** (1 / d) * direction / np.linalg.norm(direction)
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)
''',
    "pgd-never": '''
def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(num_steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)
''',
    "pgd-stale-gradient": '''
def perturbed_gradient_descent(grad, x0, *, lr, rng, num_steps, g_thresh, radius):
    x = np.array(x0, dtype=float)
    d = len(x)
    path = [x]
    for _ in range(num_steps):
        g = grad(x)
        if np.linalg.norm(g) <= g_thresh:
            direction = rng.standard_normal(d)
            x = x + radius * rng.random() ** (1 / d) * direction / np.linalg.norm(direction)
        x = x - lr * g
        path.append(x)
    return np.array(path)
''',
    "cc-unscaled-tolerance": '''
def classify_critical_point(hessian):
    eigenvalues = np.linalg.eigvalsh(hessian)
    tol = 1e-8
    if np.all(eigenvalues > tol):
        return "minimum"
    if np.all(eigenvalues < -tol):
        return "maximum"
    if np.any(eigenvalues > tol) and np.any(eigenvalues < -tol):
        return "saddle"
    return "degenerate"
''',
}
