// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, …) are C macros that
// Swift cannot import; these inline functions hand them over.
#include <mpi.h>

static inline MPI_Comm taipan_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype taipan_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype taipan_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype taipan_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype taipan_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op taipan_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op taipan_mpi_max(void) { return MPI_MAX; }
static inline void *taipan_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler taipan_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int taipan_mpi_success(void) { return MPI_SUCCESS; }
static inline int taipan_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info taipan_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int taipan_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
