/* `glf devices`: every OpenCL platform and device, as a table or JSON;
 * with --device SPEC, also which device that spec picks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void json_str_(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

int glf_cmd_devices(int argc, char **argv)
{
    int json = 0;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if ((r = cli_opt(argc, argv, &i, "--device", &spec)) != 0) {
            if (r < 0)
                return 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: glf devices [--json] [--device SPEC]\n\n"
                   "Lists every OpenCL platform and device. SPEC (also GLF_DEVICE) is an index N,\n"
                   "P:N (platform:device), 'cpu', 'gpu' or a case-insensitive part of the name;\n"
                   "the default is the first GPU, else the first CPU device.\n");
            return 0;
        } else {
            fprintf(stderr, "glf devices: unknown option '%s' (see glf devices --help)\n", argv[i]);
            return 2;
        }
    }
    glf_device_info *l;
    int n;
    glf_status s = glf_devices_list(&l, &n);
    if (s != GLF_OK)
        return cli_error("devices", s);
    glf_device_info chosen;
    s = glf_device_select(spec, &chosen);
    if (s != GLF_OK) {
        free(l);
        return cli_error("devices", s);
    }
    if (json) {
        printf("{\"selected\": %d, \"devices\": [", chosen.index);
        for (int i = 0; i < n; i++) {
            const glf_device_info *d = &l[i];
            printf("%s\n  {\"index\": %d, \"platform_index\": %d, \"device_index\": %d, "
                   "\"platform\": ", i ? "," : "", d->index, d->platform_index, d->device_index);
            json_str_(d->platform);
            printf(", \"platform_version\": ");
            json_str_(d->platform_version);
            printf(", \"vendor\": ");
            json_str_(d->vendor);
            printf(", \"name\": ");
            json_str_(d->name);
            printf(", \"type\": \"%s\", \"driver\": ", glf_device_type_str(d->type));
            json_str_(d->driver);
            printf(", \"version\": ");
            json_str_(d->version);
            printf(", \"opencl_c\": ");
            json_str_(d->c_version);
            printf(", \"compute_units\": %u, \"global_mem_bytes\": %llu, "
                   "\"local_mem_bytes\": %llu, \"local_mem_dedicated\": %s, "
                   "\"max_work_group\": %zu, \"native_float_width\": %u, "
                   "\"preferred_float_width\": %u, \"kernel_family\": \"%s\"}",
                   d->compute_units, d->global_mem, d->local_mem,
                   d->local_mem_dedicated ? "true" : "false", d->max_work_group,
                   d->native_float_width, d->preferred_float_width,
                   glf_family_name(glf_device_family(d)));
        }
        printf("\n]}\n");
    } else {
        for (int i = 0; i < n; i++) {
            const glf_device_info *d = &l[i];
            printf("%c %d (%d:%d) %s\n", d->index == chosen.index ? '*' : ' ', d->index,
                   d->platform_index, d->device_index, d->name);
            printf("    platform     %s (%s)\n", d->platform, d->platform_version);
            printf("    vendor       %s\n", d->vendor);
            printf("    type         %s\n", glf_device_type_str(d->type));
            printf("    driver       %s\n", d->driver);
            printf("    OpenCL C     %s\n", d->c_version);
            printf("    compute units %u, max work-group %zu\n", d->compute_units,
                   d->max_work_group);
            printf("    global mem   %.1f GiB, local mem %.0f KiB (%s)\n",
                   (double)d->global_mem / (1024.0 * 1024 * 1024), (double)d->local_mem / 1024.0,
                   d->local_mem_dedicated ? "dedicated" : "in global memory");
            printf("    kernels      %s family (native float vector width %u)\n",
                   glf_family_name(glf_device_family(d)), d->native_float_width);
        }
        printf("(* = selected%s%s)\n", spec ? " by --device " : " by default", spec ? spec : "");
    }
    free(l);
    return 0;
}
