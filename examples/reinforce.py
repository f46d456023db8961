"""REINFORCE (Williams' policy gradient) on a cart-pole balancing task.

The environment is a small numpy re-statement of the classic cart-pole dynamics (no
gym needed): push the cart left or right to keep the pole upright; +1 reward per step
until the pole falls or the cart leaves the track. The policy is a two-layer network
whose softmax output parameterizes ``torch.distributions.Categorical``; after each
episode the discounted returns are normalised and the loss is ``-sum(log_prob * R)``.

    python examples/reinforce.py --episodes 300 --device cpu
"""
import argparse
import math
from itertools import count

import numpy as np

import ember as torch

nn = torch.nn
F = torch.nn.functional
Categorical = torch.distributions.Categorical


class CartPole:
    """Cart-pole with Euler integration; observation (x, x_dot, theta, theta_dot), actions {0: left, 1: right}."""

    gravity, mass_cart, mass_pole, half_length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_limit, x_limit = 12 * 2 * math.pi / 360, 2.4

    def __init__(self, seed=0, max_steps=500):
        self.rng = np.random.RandomState(seed)
        self.max_steps = max_steps
        self.state = None
        self.steps = 0

    def reset(self):
        self.state = self.rng.uniform(-0.05, 0.05, size=4)
        self.steps = 0
        return self.state.astype(np.float32), {}

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        cos, sin = math.cos(theta), math.sin(theta)
        total_mass = self.mass_cart + self.mass_pole
        pole_moment = self.mass_pole * self.half_length
        temp = (force + pole_moment * theta_dot ** 2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.half_length * (4.0 / 3.0 - self.mass_pole * cos ** 2 / total_mass))
        x_acc = temp - pole_moment * theta_acc * cos / total_mass
        x, x_dot = x + self.tau * x_dot, x_dot + self.tau * x_acc
        theta, theta_dot = theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc
        self.state = np.array([x, x_dot, theta, theta_dot])
        self.steps += 1
        terminated = bool(abs(x) > self.x_limit or abs(theta) > self.theta_limit)
        truncated = self.steps >= self.max_steps
        return self.state.astype(np.float32), 1.0, terminated, truncated, {}


class Policy(nn.Module):
    def __init__(self, hidden=128, dropout=0.6):
        super().__init__()
        self.affine1 = nn.Linear(4, hidden)
        self.dropout = nn.Dropout(p=dropout)
        self.affine2 = nn.Linear(hidden, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.dropout(self.affine1(x)))
        return F.softmax(self.affine2(x), dim=1)


def select_action(policy, state, device):
    state = torch.from_numpy(state).float().unsqueeze(0).to(device)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode(policy, optimizer, gamma, eps):
    R = 0.0
    returns = []
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns, device=policy.saved_log_probs[0].device)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    policy_loss = torch.cat([-log_prob * R for log_prob, R in zip(policy.saved_log_probs, returns)]).sum()
    optimizer.zero_grad()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=543)
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=500, help="episode length cap")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.6)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    env = CartPole(seed=args.seed, max_steps=args.max_steps)
    policy = Policy(args.hidden, args.dropout).to(args.device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    eps = np.finfo(np.float32).eps.item()

    running_reward = 10.0
    lengths = []
    for i_episode in range(1, args.episodes + 1):
        state, _ = env.reset()
        ep_reward = 0.0
        for t in count(1):
            action = select_action(policy, state, args.device)
            state, reward, terminated, truncated, _ = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break
        lengths.append(ep_reward)
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        finish_episode(policy, optimizer, args.gamma, eps)
        if i_episode % args.log_interval == 0:
            print(f"Episode {i_episode}\tLast reward: {ep_reward:.2f}\tAverage reward: {running_reward:.2f}")
        if running_reward > 0.95 * args.max_steps:
            print(f"Solved! Running reward is now {running_reward:.2f} and the last episode runs to {t} time steps!")
            break
    window = max(1, min(20, len(lengths) // 4))
    first, last = float(np.mean(lengths[:window])), float(np.mean(lengths[-window:]))
    print(f"first_return={first:.6f} last_return={last:.6f}")
    return lengths


if __name__ == "__main__":
    main()
