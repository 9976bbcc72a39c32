//! Liveness, shared by both backends.

/// Expands to `ping` for the backend in scope.
macro_rules! health_sql {
    () => {
        pub(crate) async fn ping(pool: &sqlx::Pool<Db>) -> Result<(), $crate::StoreError> {
            sqlx::query("SELECT 1").execute(pool).await.map_err(err)?;
            Ok(())
        }
    };
}

pub(crate) use health_sql;
