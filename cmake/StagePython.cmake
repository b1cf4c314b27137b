# Builds <build>/python/lodestar: the Python package as it will be installed
# (source .py files symlinked, the module, lib/ and bin/), so that
# `PYTHONPATH=<build>/python` runs tests against this build tree without
# installing into the venv. Run with -DSRC=... -DDST=... -DMODULE=... -DLIBS=... -DCLI=...
file(MAKE_DIRECTORY ${DST}/lodestar/lib ${DST}/lodestar/bin)
file(GLOB entries RELATIVE ${SRC} ${SRC}/*)
foreach(e ${entries})
  if(NOT e STREQUAL "__pycache__")
    file(CREATE_LINK ${SRC}/${e} ${DST}/lodestar/${e} SYMBOLIC)
  endif()
endforeach()
get_filename_component(module_name ${MODULE} NAME)
file(CREATE_LINK ${MODULE} ${DST}/lodestar/${module_name} SYMBOLIC)
foreach(lib ${LIBS})
  get_filename_component(lib_name ${lib} NAME)
  file(CREATE_LINK ${lib} ${DST}/lodestar/lib/${lib_name} SYMBOLIC)
endforeach()
file(CREATE_LINK ${CLI} ${DST}/lodestar/bin/lodestar SYMBOLIC)
