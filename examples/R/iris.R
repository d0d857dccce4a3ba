# The iris example in R: a dataset loader and a randomForest model for pld-r.
# randomForest comes from Debian's r-cran-randomforest (or install.packages() once, by hand):
# nothing here installs packages at run time.
library(randomForest)

# The dataset loader: returns list(X, y).
dataset <- function() {
    x <- iris[, 1:4]
    y <- as.factor(iris[, 5])
    list(x, y)
}

# The model: called with the training data, returns the fitted R model.
train.randomForest <- function(x, y, ...) {
    randomForest(x, as.factor(y), ...)
}
