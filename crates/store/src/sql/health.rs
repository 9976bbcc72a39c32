//! Liveness, shared by both backends.

/// Expands to `ping` for the backend in scope.
macro_rules! health_sql {
    () => {
        pub(crate) async fn ping(c: &mut Conn) -> Result<(), $crate::StoreError> {
            sqlx::query("SELECT 1")
                .execute(&mut *c)
                .await
                .map_err(err)?;
            Ok(())
        }
    };
}

pub(crate) use health_sql;
