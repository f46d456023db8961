"""Acceptance programs: REINFORCE with a Categorical policy learns CartPole (a numpy
implementation of the classic cart-pole dynamics, batched), and a VAE step with Normal.rsample
and kl_divergence trains, on every device."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as D
import ember.nn as nn
import ember.optim as optim


class CartPoles:
    """A batch of classic cart-pole environments (Barto, Sutton and Anderson, 1983): the state is
    cart position, cart velocity, pole angle and angular velocity; each step pushes the cart left
    or right with 10 N, gives reward 1, and ends when the pole passes 12° or the cart leaves ±2.4."""
    gravity, cart_mass, pole_mass, half_length, force, dt = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02

    def __init__(self, n, rng):
        self.rng = rng
        self.state = rng.uniform(-0.05, 0.05, size=(n, 4))
        self.done = np.zeros(n, dtype=bool)

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state.T
        force = np.where(action == 1, self.force, -self.force)
        total_mass = self.cart_mass + self.pole_mass
        pole_moment = self.pole_mass * self.half_length
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + pole_moment * theta_dot ** 2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.half_length * (4.0 / 3.0 - self.pole_mass * cos ** 2 / total_mass))
        x_acc = temp - pole_moment * theta_acc * cos / total_mass
        self.state = np.stack([x + self.dt * x_dot, x_dot + self.dt * x_acc,
                               theta + self.dt * theta_dot, theta_dot + self.dt * theta_acc], -1)
        reward = (~self.done).astype(np.float64)
        x, theta = self.state[:, 0], self.state[:, 2]
        self.done |= (np.abs(x) > 2.4) | (np.abs(theta) > 12 * math.pi / 180)
        return reward


def _reinforce(device, iterations=10, batch=32, horizon=100, lr=0.05, seed=0):
    ember.manual_seed(seed)
    rng = np.random.default_rng(seed)
    policy = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2)).to(device)
    opt = optim.Adam(policy.parameters(), lr=lr)
    averages = []
    for _ in range(iterations):
        env = CartPoles(batch, rng)
        states, actions, rewards = [], [], []
        with ember.no_grad():
            for _ in range(horizon):
                s = ember.tensor(env.state, dtype=ember.float32, device=device)
                # validate_args=False: the logits come from the network, no host check per step
                a = D.Categorical(logits=policy(s), validate_args=False).sample()
                states.append(s)
                actions.append(a)
                rewards.append(env.step(a.cpu().numpy()))
                if env.done.all():
                    break
        rewards = np.stack(rewards)  # (T, batch); 0 after an episode ends
        alive = rewards > 0
        averages.append(rewards.sum(0).mean())
        # discounted returns-to-go, normalised over the live steps (the baseline)
        returns = np.zeros_like(rewards)
        running = np.zeros(batch)
        for t in range(len(rewards) - 1, -1, -1):
            running = rewards[t] + 0.99 * running
            returns[t] = running
        advantages = (returns - returns[alive].mean()) / (returns[alive].std() + 1e-8) * alive
        logits = policy(ember.stack(states))
        log_prob = D.Categorical(logits=logits).log_prob(ember.stack(actions))
        loss = -(log_prob * ember.tensor(advantages, dtype=ember.float32, device=device)).sum() / alive.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return averages


@pytest.mark.slow
@pytest.mark.parametrize("device_name", ["cpu", "opencl", "mps"])
def test_reinforce_learns_cartpole(device_name):
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    backend = REGISTRY.backends.get(device_name)
    if backend is None or not backend.is_available():
        pytest.skip(f"{device_name} is not available here")
    averages = _reinforce(device_name)
    first, last = np.mean(averages[:3]), np.mean(averages[-3:])
    # a random policy lasts ~20 steps; the learned one clearly longer
    assert first < 40, averages
    assert last > 2 * first and last > 55, averages


class _VAE(nn.Module):
    def __init__(self, d=16, h=32, z=4):
        super().__init__()
        self.enc = nn.Linear(d, h)
        self.mu = nn.Linear(h, z)
        self.log_sigma = nn.Linear(h, z)
        self.dec = nn.Sequential(nn.Linear(z, h), nn.Tanh(), nn.Linear(h, d))

    def loss(self, x):
        hidden = ember.tanh(self.enc(x))
        posterior = D.Normal(self.mu(hidden), self.log_sigma(hidden).exp())
        prior = D.Normal(ember.zeros_like(posterior.loc), ember.ones_like(posterior.scale))
        z = posterior.rsample()
        likelihood = D.Independent(D.Bernoulli(logits=self.dec(z)), 1)
        kl = D.kl_divergence(posterior, prior).sum(-1)
        return (kl - likelihood.log_prob(x)).mean(), kl.mean()


def test_vae_trains(any_device):
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    # binary data from 3 prototypes with flipped bits
    prototypes = rng.random((3, 16)) < 0.5
    data = prototypes[rng.integers(0, 3, size=128)] ^ (rng.random((128, 16)) < 0.05)
    x = ember.tensor(data.astype(np.float32), device=any_device)
    model = _VAE().to(any_device)
    opt = optim.Adam(model.parameters(), lr=0.04)
    losses = []
    for _ in range(30):
        loss, kl = model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in model.parameters())  # gradients reach the encoder through rsample
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5]), losses
    assert kl.item() > 0
