# The cache_reset fixture: wipe the tests' cache folders (DIR), so every run
# starts cold. With FROM (another build's test-cache folder, e.g. the normal
# build's for the sanitizer pass) each test's PoCL cache is then copied from
# there: PoCL's compiled kernels only (the costly part: the sanitizer's
# malloc makes LLVM several times slower), never glf's own cache folders,
# whose program cache, feature probes and tuning stores start empty as in
# any run. Usage: cmake -DDIR=... [-DFROM=...] -P cache_reset.cmake
file(REMOVE_RECURSE "${DIR}")
if(FROM)
  file(GLOB tests LIST_DIRECTORIES true "${FROM}/*")
  foreach(t ${tests})
    if(IS_DIRECTORY "${t}/pocl")
      get_filename_component(name "${t}" NAME)
      file(MAKE_DIRECTORY "${DIR}/${name}")
      file(COPY "${t}/pocl" DESTINATION "${DIR}/${name}")
    endif()
  endforeach()
endif()
