// Registry of `lodestar` subcommands. Each command lives in its own
// src/cli/cmd_<name>.cpp and registers itself with a CommandRegistrar; main.cpp
// only builds the parser from the registry and runs the chosen action.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace lodestar::cli {

struct GlobalOptions {
  int threads = 0;
  std::string memory_limit;
  EngineOptions engine_options() const {
    EngineOptions o;
    o.threads = threads;
    o.memory_limit = memory_limit;
    return o;
  }
};

// What runs when the subcommand is chosen; returns the process exit code.
using Action = std::function<int()>;

// Declares the subcommand's options on `app` (binding them to storage the
// returned Action owns) and returns the Action.
using CommandSetup = std::function<Action(CLI::App& app, const GlobalOptions& globals)>;

struct CommandSpec {
  std::string name;
  std::string description;
  int order;  // position in --help
  CommandSetup setup;
};

std::vector<CommandSpec>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string description, int order, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(description), order, std::move(setup)});
  }
};

// True when progress bars should be drawn (stderr is a terminal).
bool progress_wanted();

}  // namespace lodestar::cli
