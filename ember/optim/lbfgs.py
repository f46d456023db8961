"""L-BFGS (Nocedal): a quasi-Newton method over all parameters flattened into one vector.

Unlike the other optimizers, L-BFGS re-evaluates the objective several times per step, so
``step`` requires a closure and the per-parameter ``init_state``/``update`` protocol does
not apply: this class overrides ``step`` itself. Its state (the curvature history, the
last direction and step length) is kept under the first parameter, as in PyTorch, so
``state_dict`` checkpoints have PyTorch's layout.
"""
from __future__ import annotations

import math

from ember.core.autograd import enable_grad
from ember.optim.optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to ``bounds``.

    Falls back to the middle of the interval when the cubic has no real minimiser.
    """
    if bounds is not None:
        low, high = bounds
    else:
        low, high = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, low), high)


def _dot(a, b) -> float:
    return float(a.dot(b).item())


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A line search along ``d`` for a step ``t`` meeting the strong Wolfe conditions.

    A bracketing phase (cubic extrapolation) finds an interval holding an acceptable
    step; a zoom phase (cubic interpolation, with a guard against steps too close to the
    interval's ends) narrows it. ``obj_func(x, t, d)`` returns the loss and flat gradient
    at ``x + t * d``.

    Returns:
        ``(loss, flat_grad, t, number_of_evaluations)`` at the accepted step.
    """
    d_norm = float(d.abs().max().item())
    g = g.clone()
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = _dot(g_new, d)

    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.clone()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.clone()], [gtd_prev, gtd_new]
            break
        # extrapolate: at least a little past t, at most ten times it
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        previous = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new.clone(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

    if ls_iter == max_ls:   # no bracket found: keep the best of the two ends
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a step very near an end of the interval makes little progress: push it inwards
        top, bottom = max(bracket), min(bracket)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:
            if insufficient_progress or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1

        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new.clone(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new.clone(), gtd_new

    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS: limited-memory BFGS over all parameters as one flat vector.

    Each ``step(closure)`` runs up to ``max_iter`` iterations: the search direction comes
    from the two-loop recursion over the last ``history_size`` curvature pairs (s, y),
    and the step length is ``lr`` (the first iteration ever: ``min(1, 1/|g|_1) * lr``) or
    is found by a strong-Wolfe line search. Iterations stop early when the gradient's
    largest entry is at most ``tolerance_grad``, or the step or the change of the loss
    is below ``tolerance_change``, or ``max_eval`` evaluations have been spent.

    Only one parameter group is supported. The closure must clear the gradients,
    compute the loss, call ``backward`` and return the loss.

    Args:
        params: the parameters to optimize (an iterable of tensors, of ``(name, tensor)`` pairs, or one
            parameter-group dict).
        lr: the step length factor. Default: ``1``.
        max_iter: the most iterations per ``step``. Default: ``20``.
        max_eval: the most closure evaluations per ``step``. Default: ``max_iter * 5 // 4``.
        tolerance_grad: stop once ``max |grad| <= tolerance_grad``. Default: ``1e-7``.
        tolerance_change: stop once the step or the loss change is below this. Default: ``1e-9``.
        history_size: how many curvature pairs are kept. Default: ``100``.
        line_search_fn: ``None`` (fixed step length) or ``'strong_wolfe'``. Default: ``None``.

    Raises:
        ValueError: if there is more than one parameter group, or ``lr`` is negative.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    def _numel(self) -> int:
        if self._numel_cache is None:
            self._numel_cache = sum(2 * p.numel() if p.is_complex() else p.numel() for p in self._params)
        return self._numel_cache

    @staticmethod
    def _flat(t):
        from ember.ops.complex import view_as_real
        return (view_as_real(t) if t.is_complex() else t).reshape(-1)

    def _gather_flat_grad(self):
        from ember.ops.creation import zeros
        from ember.ops.shape import cat
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(zeros(2 * p.numel() if p.is_complex() else p.numel(), dtype=p.real.dtype
                                   if p.is_complex() else p.dtype, device=p.device))
            elif getattr(p.grad, "is_sparse", False):
                views.append(self._flat(p.grad.to_dense()))
            else:
                views.append(self._flat(p.grad))
        return cat(views, 0)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            target = p
            if p.is_complex():
                from ember.ops.complex import view_as_real
                target = view_as_real(p)
            numel = target.numel()
            target.add_(update[offset:offset + numel].view_as(target), alpha=step_size)
            offset += numel
        assert offset == self._numel()

    def _clone_param(self):
        return [p.clone() for p in self._params]

    def _set_param(self, params_data):
        for p, data in zip(self._params, params_data):
            p.copy_(data)

    def _directional_evaluate(self, closure, x, t, d):
        """Loss and flat gradient at ``x + t * d``; the parameters are restored to ``x`` afterwards."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure):
        """Runs up to ``max_iter`` L-BFGS iterations.

        Args:
            closure: a callable that clears the gradients, re-evaluates the model, calls ``backward`` and
                returns the loss. Required.

        Returns:
            The loss the closure returned on its first evaluation in this step.

        Raises:
            RuntimeError: if ``line_search_fn`` is neither ``None`` nor ``'strong_wolfe'``.
        """
        from ember.core.autograd import no_grad
        assert len(self.param_groups) == 1
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        def evaluate():
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        with no_grad():
            flat_grad = self._gather_flat_grad()
            if float(flat_grad.abs().max().item()) <= tolerance_grad:
                return orig_loss

            d, t = state.get("d"), state.get("t")
            old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
            H_diag = state.get("H_diag")
            prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1

                # the search direction
                if state["n_iter"] == 1:
                    d = flat_grad.neg()
                    old_dirs, old_stps, ro = [], [], []
                    H_diag = 1.0
                else:
                    y = flat_grad.sub(prev_flat_grad)
                    s = d.mul(t)
                    ys = _dot(y, s)
                    if ys > 1e-10:   # keep only pairs with positive curvature
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        H_diag = ys / _dot(y, y)
                    # two-loop recursion: d = -H g
                    num_old = len(old_dirs)
                    al = [None] * num_old
                    q = flat_grad.neg()
                    for i in range(num_old - 1, -1, -1):
                        al[i] = _dot(old_stps[i], q) * ro[i]
                        q.add_(old_dirs[i], alpha=-al[i])
                    d = r = q.mul(H_diag)
                    for i in range(num_old):
                        be_i = _dot(old_dirs[i], r) * ro[i]
                        r.add_(old_stps[i], alpha=al[i] - be_i)
                    state["al"] = al

                prev_flat_grad = flat_grad.clone()
                prev_loss = loss

                # the step length
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / float(flat_grad.abs().sum().item())) * lr
                else:
                    t = lr
                gtd = _dot(flat_grad, d)
                if gtd > -tolerance_change:   # not a descent direction
                    break

                ls_func_evals = 0
                if line_search_fn is not None:
                    if line_search_fn != "strong_wolfe":
                        raise RuntimeError("only 'strong_wolfe' is supported")
                    x_init = self._clone_param()

                    def obj_func(x, step, direction):
                        return self._directional_evaluate(evaluate, x, step, direction)

                    loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd)
                    self._add_grad(t, d)
                    opt_cond = float(flat_grad.abs().max().item()) <= tolerance_grad
                else:
                    self._add_grad(t, d)
                    if n_iter != max_iter:
                        # re-evaluate unless this was the last iteration (the caller's next step will)
                        loss = float(evaluate())
                        flat_grad = self._gather_flat_grad()
                        opt_cond = float(flat_grad.abs().max().item()) <= tolerance_grad
                        ls_func_evals = 1
                current_evals += ls_func_evals
                state["func_evals"] += ls_func_evals

                if n_iter == max_iter:
                    break
                if current_evals >= max_eval:
                    break
                if opt_cond:
                    break
                if float(d.abs().max().item()) * abs(t) <= tolerance_change:
                    break
                if abs(loss - prev_loss) < tolerance_change:
                    break

            state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                         prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
