/*
 * cudajail's CUDA check, run inside the jail by `up`'s verify step (DESIGN §3 step 9).
 *
 * It loads the NVIDIA driver library (libcuda.so.1) with dlopen, so it builds with nothing but a
 * C compiler and libc: no CUDA toolkit or headers. The few driver-API entry points it calls are
 * declared here from NVIDIA's public CUDA driver API documentation (all take and return plain
 * ints, pointers and sizes).
 *
 * For every device it initialises CUDA, reads name, UUID, PCI bus id and total memory, then
 * creates a context and allocates and frees 1 MiB of device memory: the part that needs the
 * uvm shim on FreeBSD. Output, one record per line, parsed by cudajail (shim.rs):
 *
 *   cudajail-cuda-probe 1
 *   driver_api 12080
 *   count 1
 *   gpu 0 uuid=GPU-... pci=0000:01:00.0 mem_mib=81559 ctx=ok name=NVIDIA H100 80GB HBM3
 *
 * On a failure it prints `error step=<call> code=<n> name=<CUDA_ERROR_...>` and exits 1;
 * exit 3 when libcuda.so.1 cannot be loaded (the message is dlerror()'s).
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef int cu_result;
typedef int cu_device;
typedef void *cu_context;
typedef unsigned long long cu_deviceptr;

static void *lib;

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);
	if (p == NULL) {
		printf("error step=dlsym code=-1 name=%s\n", name);
		exit(1);
	}
	return p;
}

static void check(cu_result r, const char *step)
{
	const char *name = "unknown";
	cu_result (*get_name)(cu_result, const char **);

	if (r == 0)
		return;
	*(void **)&get_name = dlsym(lib, "cuGetErrorName");
	if (get_name == NULL || get_name(r, &name) != 0 || name == NULL)
		name = "unknown";
	printf("error step=%s code=%d name=%s\n", step, r, name);
	exit(1);
}

int main(void)
{
	cu_result (*init)(unsigned int);
	cu_result (*driver_version)(int *);
	cu_result (*count)(int *);
	cu_result (*device_get)(cu_device *, int);
	cu_result (*get_name)(char *, int, cu_device);
	cu_result (*get_uuid)(unsigned char *, cu_device);
	cu_result (*get_pci)(char *, int, cu_device);
	cu_result (*total_mem)(size_t *, cu_device);
	cu_result (*ctx_create)(cu_context *, unsigned int, cu_device);
	cu_result (*ctx_destroy)(cu_context);
	cu_result (*mem_alloc)(cu_deviceptr *, size_t);
	cu_result (*mem_free)(cu_deviceptr);
	int ver = 0, n = 0, i;

	lib = dlopen("libcuda.so.1", RTLD_NOW);
	if (lib == NULL) {
		printf("error step=dlopen code=-1 name=%s\n", dlerror());
		return 3;
	}
	*(void **)&init = sym("cuInit");
	*(void **)&driver_version = sym("cuDriverGetVersion");
	*(void **)&count = sym("cuDeviceGetCount");
	*(void **)&device_get = sym("cuDeviceGet");
	*(void **)&get_name = sym("cuDeviceGetName");
	*(void **)&get_uuid = sym("cuDeviceGetUuid");
	*(void **)&get_pci = sym("cuDeviceGetPCIBusId");
	*(void **)&total_mem = sym("cuDeviceTotalMem_v2");
	*(void **)&ctx_create = sym("cuCtxCreate_v2");
	*(void **)&ctx_destroy = sym("cuCtxDestroy_v2");
	*(void **)&mem_alloc = sym("cuMemAlloc_v2");
	*(void **)&mem_free = sym("cuMemFree_v2");

	printf("cudajail-cuda-probe 1\n");
	check(init(0), "cuInit");
	check(driver_version(&ver), "cuDriverGetVersion");
	printf("driver_api %d\n", ver);
	check(count(&n), "cuDeviceGetCount");
	printf("count %d\n", n);
	for (i = 0; i < n; i++) {
		cu_device d;
		char name[256] = {0}, pci[64] = {0};
		unsigned char u[16];
		size_t mem = 0;
		cu_context ctx = NULL;
		cu_deviceptr buf = 0;

		check(device_get(&d, i), "cuDeviceGet");
		check(get_name(name, (int)sizeof name - 1, d), "cuDeviceGetName");
		check(get_uuid(u, d), "cuDeviceGetUuid");
		check(get_pci(pci, (int)sizeof pci - 1, d), "cuDeviceGetPCIBusId");
		check(total_mem(&mem, d), "cuDeviceTotalMem_v2");
		check(ctx_create(&ctx, 0, d), "cuCtxCreate_v2");
		check(mem_alloc(&buf, 1 << 20), "cuMemAlloc_v2");
		check(mem_free(buf), "cuMemFree_v2");
		check(ctx_destroy(ctx), "cuCtxDestroy_v2");
		printf("gpu %d uuid=GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		       "%02x%02x%02x%02x%02x%02x pci=%s mem_mib=%zu ctx=ok name=%s\n",
		       i, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
		       u[11], u[12], u[13], u[14], u[15], pci, mem >> 20, name);
	}
	return 0;
}
