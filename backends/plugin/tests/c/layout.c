/* Prints the header's sizes and offsets as the C compiler lays them out, one
 * "name value" per line, for comparison with the Rust mirrors (abi::LAYOUT). */
#include <stdio.h>

#include "halbench_plugin.h"

#define SIZE(t) printf("%s %zu\n", #t, sizeof(t))
#define OFFSET(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(t, f))

int main(void) {
  SIZE(HB_Api);
  printf("HB_API_SIZE_1_0 %zu\n", (size_t)HB_API_SIZE_1_0);
  printf("HB_API_SIZE_1_1 %zu\n", (size_t)HB_API_SIZE_1_1);
  SIZE(HB_Error_Get_Args);
  SIZE(HB_NamedValue);
  SIZE(HB_Device_Info_Args);
  OFFSET(HB_Device_Info_Args, extras);
  printf("HB_DEVICE_INFO_ARGS_SIZE_1_0 %zu\n", (size_t)HB_DEVICE_INFO_ARGS_SIZE_1_0);
  OFFSET(HB_Device_Info_Args, max_groups);
  SIZE(HB_Device_Stats_Args);
  SIZE(HB_Buffer_Transfer_Args);
  SIZE(HB_Buffer_Copy_Args);
  SIZE(HB_Kernel_Compile_Args);
  OFFSET(HB_Kernel_Compile_Args, kernel);
  SIZE(HB_Arg);
  SIZE(HB_Kernel_Launch_Args);
  OFFSET(HB_Kernel_Launch_Args, args);
  SIZE(HB_Event_Elapsed_Args);
  SIZE(HB_Host_Pin_Args);
  SIZE(HB_Device_Describe_Args);
  SIZE(HB_Peak);
  SIZE(HB_Device_Peaks_Args);
  OFFSET(HB_Device_Peaks_Args, source);
  return 0;
}
