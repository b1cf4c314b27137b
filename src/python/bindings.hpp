// Registry of the Python binding sections of lodestar._core. Each binding file
// declares its section with LODESTAR_PYTHON_BINDING(name) { ... } and the
// module (module.cpp) runs every registered section at import; so a layer's
// bindings live beside nothing else and adding one touches no other file.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace lodestar::python {

using BindFunction = void (*)(pybind11::module_&);

struct BindingSection {
  const char* name;
  int priority;  // lower runs first: sections that define base types (engine) go first
  BindFunction bind;
};

std::vector<BindingSection>& binding_sections();

struct BindingRegistrar {
  BindingRegistrar(const char* name, int priority, BindFunction fn) { binding_sections().push_back({name, priority, fn}); }
};

}  // namespace lodestar::python

#define LODESTAR_PYTHON_BINDING_PRIORITY(name, priority)                                                        \
  static void lodestar_bind_##name(pybind11::module_& m);                                                       \
  static ::lodestar::python::BindingRegistrar lodestar_registrar_##name(#name, priority, lodestar_bind_##name); \
  static void lodestar_bind_##name(pybind11::module_& m)

#define LODESTAR_PYTHON_BINDING(name) LODESTAR_PYTHON_BINDING_PRIORITY(name, 100)
