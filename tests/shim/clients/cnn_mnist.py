"""The shape of wandb's ``examples/pytorch/pytorch-cnn-mnist/main.py`` (wandb/examples),
written anew: argparse, ``wandb.init(config=args)``, ``wandb.watch(model, log="all")``, a
train loop logging the loss, and a test pass logging example images, accuracy and loss. It
runs on synthetic 28x28 tensors instead of downloading MNIST."""

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import wandb


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, kernel_size=5)
        self.conv2 = nn.Conv2d(4, 8, kernel_size=5)
        self.fc1 = nn.Linear(128, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.view(-1, 128)))
        return F.log_softmax(self.fc2(x), dim=1)


def loader(n: int, batch: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    data = torch.utils.data.TensorDataset(
        torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    )
    return torch.utils.data.DataLoader(data, batch_size=batch)


def train(args, model, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            wandb.log({"loss": loss.item()})


def test(model, test_loader):
    model.eval()
    test_loss, correct, examples = 0.0, 0, []
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.max(1, keepdim=True)[1]
            correct += pred.eq(target.view_as(pred)).sum().item()
            examples.append(
                wandb.Image(
                    data[0].numpy()[0], caption=f"Pred: {pred[0].item()} Truth: {target[0]}"
                )
            )
    n = len(test_loader.dataset)
    wandb.log(
        {"Examples": examples, "Test Accuracy": 100.0 * correct / n, "Test Loss": test_loss / n}
    )


def main():
    parser = argparse.ArgumentParser(description="PyTorch MNIST-shaped example")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--test-batch-size", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=2)
    args = parser.parse_args()
    wandb.init(project="pytorch-cnn-mnist", config=args)
    torch.manual_seed(args.seed)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    wandb.watch(model, log="all")
    train_loader, test_loader = loader(32, args.batch_size, 0), loader(16, args.test_batch_size, 1)
    for epoch in range(1, args.epochs + 1):
        train(args, model, train_loader, optimizer, epoch)
        test(model, test_loader)
    print("RUN_ID", wandb.run.id)
    wandb.finish()


if __name__ == "__main__":
    main()
