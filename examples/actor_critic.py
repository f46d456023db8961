"""Actor-critic on a cart-pole balancing task.

One network with two heads: the actor (a softmax over the two actions, sampled through
``torch.distributions.Categorical``) and the critic (an estimate of the state's value).
After each episode the actor is pushed along ``log_prob * advantage`` (return minus the
critic's estimate) and the critic is fitted to the normalised return with
``F.smooth_l1_loss``. The cart-pole dynamics are written in numpy below (no gym).

    python examples/actor_critic.py --episodes 300 --device cpu
"""
import argparse
import math
from collections import namedtuple
from itertools import count

import numpy as np

import ember as torch

nn = torch.nn
F = torch.nn.functional
Categorical = torch.distributions.Categorical

SavedAction = namedtuple("SavedAction", ["log_prob", "value"])


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
    """A shared hidden layer feeding an action head (actor) and a value head (critic)."""

    def __init__(self, hidden=128):
        super().__init__()
        self.affine1 = nn.Linear(4, hidden)
        self.action_head = nn.Linear(hidden, 2)
        self.value_head = nn.Linear(hidden, 1)
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


def select_action(model, state, device):
    state = torch.from_numpy(state).float().to(device)
    probs, state_value = model(state)
    m = Categorical(probs)
    action = m.sample()
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    return action.item()


def finish_episode(model, optimizer, gamma, eps):
    R = 0.0
    policy_losses, value_losses, returns = [], [], []
    for r in model.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    device = model.saved_actions[0].value.device
    returns = torch.tensor(returns, device=device)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for (log_prob, value), R in zip(model.saved_actions, returns):
        advantage = R - value.item()
        policy_losses.append(-log_prob * advantage)
        value_losses.append(F.smooth_l1_loss(value, R.reshape(1)))
    optimizer.zero_grad()
    value_loss = torch.stack(value_losses).sum()
    loss = torch.stack(policy_losses).sum() + value_loss
    loss.backward()
    optimizer.step()
    del model.rewards[:]
    del model.saved_actions[:]
    return value_loss.item() / len(value_losses)   # the critic's mean error on this episode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gamma", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=543)
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=500, help="episode length cap")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-2)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    env = CartPole(seed=args.seed, max_steps=args.max_steps)
    model = Policy(args.hidden).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    eps = np.finfo(np.float32).eps.item()

    running_reward = 10.0
    lengths, critic_losses = [], []
    for i_episode in range(1, args.episodes + 1):
        state, _ = env.reset()
        ep_reward = 0.0
        for t in count(1):
            action = select_action(model, state, args.device)
            state, reward, terminated, truncated, _ = env.step(action)
            model.rewards.append(reward)
            ep_reward += reward
            if terminated or truncated:
                break
        lengths.append(ep_reward)
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        critic_losses.append(finish_episode(model, optimizer, args.gamma, eps))
        if i_episode % args.log_interval == 0:
            print(f"Episode {i_episode}\tLast reward: {ep_reward:.2f}\tAverage reward: {running_reward:.2f}\t"
                  f"Critic loss: {critic_losses[-1]:.4f}")
        if running_reward > 0.95 * args.max_steps:
            print(f"Solved! Running reward is now {running_reward:.2f} and the last episode runs to {t} time steps!")
            break
    window = max(1, min(20, len(lengths) // 4))
    first, last = float(np.mean(lengths[:window])), float(np.mean(lengths[-window:]))
    first_critic, last_critic = float(np.mean(critic_losses[:window])), float(np.mean(critic_losses[-window:]))
    print(f"first_return={first:.6f} last_return={last:.6f} first_loss={first_critic:.6f} last_loss={last_critic:.6f}")
    return lengths


if __name__ == "__main__":
    main()
